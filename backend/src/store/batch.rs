//! Natural batching of the statements every login runs. Each kind of statement has one
//! worker: while its statement for earlier requests is at the database, new requests queue,
//! and the next statement serves all of them at once (up to [`MAX_BATCH`]). An idle node
//! sends each request alone, with no added wait; at an 8:30 rush, thirty logins cost a few
//! statements and, on SQLite, a few commits instead of thirty of each.

use std::{
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use sqlx::{pool::PoolConnection, Any, AnyConnection, AnyPool, Executor};
use tokio::sync::{mpsc, oneshot, Mutex, OwnedMutexGuard};

use super::{primary::Primary, StoreError, StoreResult};

/// The most requests one statement serves. Each batch size is its own prepared statement,
/// so this also bounds how many a connection caches per kind.
const MAX_BATCH: usize = 16;

/// Requests waiting beyond this make callers wait to enqueue: memory stays bounded.
const QUEUE_CAPACITY: usize = 4_096;

struct Job<In, Out> {
    input: In,
    reply: oneshot::Sender<StoreResult<Out>>,
}

/// A queue in front of one kind of statement; cheap to share between requests.
pub struct Batcher<In, Out> {
    queue: mpsc::Sender<Job<In, Out>>,
}

impl<In, Out> Batcher<In, Out>
where
    In: Send + 'static,
    Out: Send + 'static,
{
    /// Starts the worker. `run` gets the batcher's connection and the inputs of one batch and
    /// must answer each, in order; when it fails, every request of the batch gets its error.
    /// A batch still running after `deadline` (a stalled network, a lock held elsewhere) is
    /// abandoned: its requests get a fast `Unavailable`, its connection is closed rather than
    /// reused mid-reply, and the next batch starts on a fresh one, so one stuck connection
    /// never holds every later request.
    pub fn spawn<F, Fut>(connection: HeldConnection, deadline: Duration, run: F) -> Self
    where
        F: Fn(HeldConnection, Vec<In>) -> Fut + Send + 'static,
        Fut: Future<Output = StoreResult<Vec<Out>>> + Send,
    {
        Self::spawn_sized(MAX_BATCH, connection, deadline, run)
    }

    /// [`Batcher::spawn`] with batches of at most `max_batch` requests.
    pub fn spawn_sized<F, Fut>(
        max_batch: usize,
        connection: HeldConnection,
        deadline: Duration,
        run: F,
    ) -> Self
    where
        F: Fn(HeldConnection, Vec<In>) -> Fut + Send + 'static,
        Fut: Future<Output = StoreResult<Vec<Out>>> + Send,
    {
        let (queue, mut waiting) = mpsc::channel::<Job<In, Out>>(QUEUE_CAPACITY);
        tokio::spawn(async move {
            while let Some(first) = waiting.recv().await {
                let mut jobs = vec![first];
                while jobs.len() < max_batch {
                    match waiting.try_recv() {
                        Ok(job) => jobs.push(job),
                        Err(_) => break,
                    }
                }
                let (inputs, replies): (Vec<In>, Vec<_>) =
                    jobs.into_iter().map(|job| (job.input, job.reply)).unzip();
                let ran = tokio::time::timeout(deadline, run(connection.clone(), inputs)).await;
                match ran {
                    Ok(Ok(outputs)) if outputs.len() == replies.len() => {
                        for (reply, output) in replies.into_iter().zip(outputs) {
                            // The caller may have gone (client disconnected): nothing to do.
                            let _ = reply.send(Ok(output));
                        }
                    }
                    Ok(Ok(outputs)) => {
                        let error = StoreError::Other(format!(
                            "a batch of {} answered {} requests",
                            replies.len(),
                            outputs.len()
                        ));
                        answer_all(replies, &error);
                    }
                    Ok(Err(error)) => answer_all(replies, &error),
                    Err(_) => {
                        connection.discard().await;
                        tracing::warn!(?deadline, "the database did not answer a batch in time");
                        answer_all(replies, &StoreError::stalled(deadline));
                    }
                }
            }
        });
        Self { queue }
    }

    /// Queues one request and waits for its answer.
    pub async fn call(&self, input: In) -> StoreResult<Out> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job { input, reply })
            .await
            .map_err(|_| StoreError::Unavailable("the store is shutting down".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Other("a batch ended without an answer".into()))?
    }
}

fn answer_all<Out>(replies: Vec<oneshot::Sender<StoreResult<Out>>>, error: &StoreError) {
    for reply in replies {
        let _ = reply.send(Err(error.clone()));
    }
}

/// The connection one batcher's statements run on. On PostgreSQL it is kept between
/// batches: a connection returned to the pool costs a round trip (the pool checks it), and a
/// kept one has the batcher's statements prepared already. SQLite's single connection is
/// shared by everyone, so there it goes back to the pool after each batch.
///
/// A kept connection carries a server-side `statement_timeout` (the batch deadline), so the
/// server, too, gives up on a statement nobody waits for. It goes back to the pool only when
/// the node stops: once it fails or stalls it is closed, and the pool opens a replacement;
/// so is one taken before the primary was lost (see `primary`).
#[derive(Clone)]
pub struct HeldConnection {
    pool: AnyPool,
    keep: bool,
    /// Set on a kept connection when it is opened.
    statement_timeout: Option<Duration>,
    primary: Option<Arc<Primary>>,
    held: Arc<Mutex<Option<Taken>>>,
}

/// A kept connection and when it was taken from the pool.
struct Taken {
    connection: PoolConnection<Any>,
    at: Instant,
}

impl HeldConnection {
    /// A connection taken from `pool` for each batch.
    pub fn per_batch(pool: AnyPool) -> Self {
        Self {
            pool,
            keep: false,
            statement_timeout: None,
            primary: None,
            held: Arc::default(),
        }
    }

    /// A connection kept between batches; with `statement_timeout` (PostgreSQL only: SQLite
    /// has none) the server cancels its statements after that long. With `primary`, one
    /// taken before the primary was lost is closed instead of used.
    pub fn kept(
        pool: AnyPool,
        statement_timeout: Option<Duration>,
        primary: Option<Arc<Primary>>,
    ) -> Self {
        Self {
            pool,
            keep: true,
            statement_timeout,
            primary,
            held: Arc::default(),
        }
    }

    /// Gives a kept connection back to the pool (before the pool closes, which waits for
    /// every connection to come back).
    pub async fn release(&self) {
        self.held.lock().await.take();
    }

    /// Closes the kept connection, which may be stuck in the middle of a reply.
    pub async fn discard(&self) {
        if let Some(taken) = self.held.lock().await.take() {
            drop(taken.connection.detach());
        }
    }

    /// The connection for one batch, opened or taken from the pool when none is held.
    pub async fn lease(&self) -> StoreResult<Lease> {
        let mut slot = Arc::clone(&self.held).lock_owned().await;
        let stale = match (&self.primary, slot.as_ref()) {
            (Some(primary), Some(taken)) => primary.is_stale(taken.at),
            _ => false,
        };
        if stale {
            if let Some(taken) = slot.take() {
                drop(taken.connection.detach());
            }
        }
        if slot.is_none() {
            let mut connection = self.pool.acquire().await?;
            if let Some(timeout) = self.statement_timeout {
                let set = format!("set statement_timeout = {}", timeout.as_millis());
                if let Err(error) = connection.execute(set.as_str()).await {
                    drop(connection.detach());
                    return Err(error.into());
                }
            }
            *slot = Some(Taken {
                connection,
                at: Instant::now(),
            });
        }
        Ok(Lease {
            slot,
            keep: self.keep,
        })
    }

    /// A round trip on this connection within `deadline`, for readiness: it answers only
    /// when the batcher's next statement would.
    pub async fn probe(&self, deadline: Duration) -> StoreResult<()> {
        let probe = async {
            let mut lease = self.lease().await?;
            let connection = lease.connection()?;
            match connection.execute("select 1").await {
                Ok(_) => Ok(()),
                Err(error) => Err(lease.failed(error)),
            }
        };
        match tokio::time::timeout(deadline, probe).await {
            Ok(answered) => answered,
            Err(_) => {
                self.discard().await;
                Err(StoreError::stalled(deadline))
            }
        }
    }
}

/// A connection in use by one batch; see [`HeldConnection`].
pub struct Lease {
    slot: OwnedMutexGuard<Option<Taken>>,
    keep: bool,
}

impl Lease {
    pub fn connection(&mut self) -> StoreResult<&mut AnyConnection> {
        self.slot
            .as_mut()
            .map(|taken| &mut *taken.connection)
            .ok_or_else(|| StoreError::Other("a lease without a connection".into()))
    }

    /// Converts a failed statement's error; a connection that broke is closed.
    pub fn failed(&mut self, error: sqlx::Error) -> StoreError {
        if !matches!(error, sqlx::Error::Database(_) | sqlx::Error::RowNotFound) {
            if let Some(taken) = self.slot.take() {
                drop(taken.connection.detach());
            }
        }
        error.into()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if !self.keep {
            self.slot.take();
        }
    }
}

/// A statement being bound, on either engine.
pub type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// The most ids one `in (...)` list binds: far below SQLite's 32,766 and PostgreSQL's 65,535
/// parameters, so a list over every socket of a busy node is split rather than refused.
pub const IN_LIST_CHUNK: usize = 1_000;

/// `$first, $first+1, ...` for `count` parameters, to list a batch in one statement.
pub fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `($first, ...), (...)`: `count` rows of `columns` parameters each.
pub fn value_rows(count: usize, first: usize, columns: usize) -> String {
    (0..count)
        .map(|i| format!("({})", placeholders(first + i * columns, columns)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use std::sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    };

    use super::*;

    const DEADLINE: Duration = Duration::from_secs(30);

    /// A connection the closures below never touch.
    fn unused_connection() -> HeldConnection {
        sqlx::any::install_default_drivers();
        HeldConnection::per_batch(AnyPool::connect_lazy("sqlite::memory:").unwrap())
    }

    #[tokio::test]
    async fn each_request_gets_its_own_answer() {
        let batcher = Arc::new(Batcher::spawn(
            unused_connection(),
            DEADLINE,
            |_, inputs: Vec<u32>| async move { Ok(inputs.into_iter().map(|n| n * 2).collect()) },
        ));
        let mut calls = tokio::task::JoinSet::new();
        for n in 0..100u32 {
            let batcher = Arc::clone(&batcher);
            calls.spawn(async move { (n, batcher.call(n).await.unwrap()) });
        }
        while let Some(joined) = calls.join_next().await {
            let (n, doubled) = joined.unwrap();
            assert_eq!(doubled, n * 2);
        }
    }

    #[tokio::test]
    async fn requests_queued_during_a_statement_share_the_next_one() {
        let statements = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&statements);
        let (release, released) = tokio::sync::watch::channel(false);
        let batcher = Arc::new(Batcher::spawn(
            unused_connection(),
            DEADLINE,
            move |_, inputs: Vec<u32>| {
                counted.fetch_add(1, Ordering::SeqCst);
                let mut released = released.clone();
                async move {
                    released.wait_for(|go| *go).await.unwrap();
                    Ok(inputs)
                }
            },
        ));
        let mut calls = tokio::task::JoinSet::new();
        let first = Arc::clone(&batcher);
        calls.spawn(async move { first.call(0).await.unwrap() });
        while statements.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        // The first statement is at the "database"; these nine queue behind it.
        for n in 1..10u32 {
            let batcher = Arc::clone(&batcher);
            calls.spawn(async move { batcher.call(n).await.unwrap() });
        }
        tokio::task::yield_now().await;
        release.send(true).unwrap();
        let mut answered = 0;
        while let Some(joined) = calls.join_next().await {
            joined.unwrap();
            answered += 1;
        }
        assert_eq!(answered, 10);
        assert_eq!(statements.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failed_statement_fails_every_request_of_its_batch() {
        let batcher = Batcher::spawn(unused_connection(), DEADLINE, |_, _: Vec<u32>| async move {
            Err::<Vec<u32>, _>(StoreError::Unavailable("down".into()))
        });
        assert!(matches!(
            batcher.call(1).await,
            Err(StoreError::Unavailable(_))
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_past_its_deadline_fails_fast_and_the_next_one_runs() {
        let stalls = Arc::new(AtomicUsize::new(1));
        let left = Arc::clone(&stalls);
        let batcher = Batcher::spawn(
            unused_connection(),
            Duration::from_secs(2),
            move |_, inputs: Vec<u32>| {
                let stall =
                    left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
                async move {
                    if stall.is_ok() {
                        std::future::pending::<()>().await;
                    }
                    Ok(inputs)
                }
            },
        );
        let started = tokio::time::Instant::now();
        assert!(matches!(
            batcher.call(1).await,
            Err(StoreError::Unavailable(_))
        ));
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        assert_eq!(batcher.call(2).await.unwrap(), 2);
        assert_eq!(stalls.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn placeholders_are_numbered_from_the_first() {
        assert_eq!(placeholders(3, 3), "$3, $4, $5");
        assert_eq!(placeholders(1, 1), "$1");
    }
}
