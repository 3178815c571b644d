//! Attempt counters decided a batch at a time. Every login reserves a slot under its address,
//! and a school's logins at 8:30 come from a few addresses: one transaction per attempt would
//! queue them all on that one counter row. Here the attempts waiting together lock the
//! counters they name once (in key order, so batches on other nodes cannot deadlock with
//! this one), are decided in arrival order in memory, and write the outcome back in one
//! statement: exactly what one transaction per attempt would have decided, in one round.

use std::collections::HashMap;

use sqlx::{AnyConnection, Connection};

use super::{
    batch::{placeholders, value_rows},
    held_connection::HeldConnection,
    login_failures::Slot,
    Engine, StoreResult, SQLITE_BEGIN_WRITE,
};

/// What one attempt asks of the counters.
#[derive(Debug)]
pub enum CounterOp {
    /// Take one slot under every `(key, max)`, all or none, in windows of `window_ms`.
    Reserve {
        budgets: Vec<(String, i64)>,
        now: i64,
        window_ms: i64,
    },
    /// Give `slots` back (those still in the window they were taken in), then forget the
    /// counter `forget` altogether.
    Release {
        slots: Vec<Slot>,
        forget: Option<String>,
    },
}

/// A reservation's slots, or when the first spent budget's window ends. A release answers
/// with no slots.
pub type CounterAnswer = Result<Vec<Slot>, i64>;

/// A counter as the batch sees it; `None` once forgotten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counter {
    window_start: i64,
    failures: i64,
}

pub(super) async fn run_batch(
    held: HeldConnection,
    engine: Engine,
    ops: Vec<CounterOp>,
) -> StoreResult<Vec<CounterAnswer>> {
    let mut keys: Vec<&str> = ops.iter().flat_map(keys_of).collect();
    keys.sort_unstable();
    keys.dedup();
    if keys.is_empty() {
        return Ok(ops.iter().map(|_| Ok(Vec::new())).collect());
    }
    let mut lease = held.lease().await?;
    let connection = lease.connection()?;
    decide(connection, engine, &keys, &ops)
        .await
        .map_err(|error| lease.failed(error))
}

fn keys_of(op: &CounterOp) -> Vec<&str> {
    match op {
        CounterOp::Reserve { budgets, .. } => budgets.iter().map(|(key, _)| key.as_str()).collect(),
        CounterOp::Release { slots, forget } => slots
            .iter()
            .map(|slot| slot.key.as_str())
            .chain(forget.as_deref())
            .collect(),
    }
}

async fn decide(
    connection: &mut AnyConnection,
    engine: Engine,
    keys: &[&str],
    ops: &[CounterOp],
) -> Result<Vec<CounterAnswer>, sqlx::Error> {
    let mut tx = match engine {
        Engine::Sqlite => connection.begin_with(SQLITE_BEGIN_WRITE).await?,
        Engine::Postgres => connection.begin().await?,
    };
    // Every counter the batch names exists before it is locked, so two nodes starting the
    // same new counter both wait on its row instead of both counting from zero.
    let sql = format!(
        "insert into login_failures (key, window_start, failures) values {} \
         on conflict (key) do nothing",
        value_rows(keys.len(), 1, 1).replace(')', ", 0, 0)")
    );
    let mut create = sqlx::query(&sql);
    for key in keys {
        create = create.bind(*key);
    }
    create.execute(&mut *tx).await?;
    let lock = if engine == Engine::Postgres {
        " for update"
    } else {
        ""
    };
    let sql = format!(
        "select key, window_start, failures from login_failures where key in ({}) \
         order by key{lock}",
        placeholders(1, keys.len())
    );
    let mut read = sqlx::query_as::<_, (String, i64, i64)>(&sql);
    for key in keys {
        read = read.bind(*key);
    }
    let before: HashMap<String, Option<Counter>> = read
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|(key, window_start, failures)| {
            let counter = Counter {
                window_start,
                failures,
            };
            (key, Some(counter))
        })
        .collect();
    let mut counters = before.clone();
    let answers = ops.iter().map(|op| apply(&mut counters, op)).collect();
    write_changes(&mut tx, &before, &counters).await?;
    tx.commit().await?;
    Ok(answers)
}

/// One attempt's effect on the counters, as its own transaction would have had it.
fn apply(counters: &mut HashMap<String, Option<Counter>>, op: &CounterOp) -> CounterAnswer {
    match op {
        CounterOp::Reserve {
            budgets,
            now,
            window_ms,
        } => {
            let mut taken = Vec::with_capacity(budgets.len());
            for (key, max) in budgets {
                let current = counters.get(key).copied().flatten();
                let next = match current {
                    // A counter at zero (new, or all given back) has no window to stay in.
                    Some(counter)
                        if counter.failures > 0 && counter.window_start + window_ms > *now =>
                    {
                        if counter.failures >= *max {
                            return Err(counter.window_start + window_ms);
                        }
                        Counter {
                            failures: counter.failures + 1,
                            ..counter
                        }
                    }
                    _ => Counter {
                        window_start: *now,
                        failures: 1,
                    },
                };
                taken.push((key, next));
            }
            let slots = taken
                .iter()
                .map(|(key, counter)| Slot {
                    key: (*key).clone(),
                    window_start: counter.window_start,
                })
                .collect();
            for (key, counter) in taken {
                counters.insert(key.clone(), Some(counter));
            }
            Ok(slots)
        }
        CounterOp::Release { slots, forget } => {
            for slot in slots {
                if let Some(Some(counter)) = counters.get_mut(&slot.key) {
                    if counter.window_start == slot.window_start && counter.failures > 0 {
                        counter.failures -= 1;
                    }
                }
            }
            if let Some(key) = forget {
                counters.insert(key.clone(), None);
            }
            Ok(Vec::new())
        }
    }
}

/// Writes back the counters the batch changed: one upsert, one delete.
async fn write_changes(
    tx: &mut AnyConnection,
    before: &HashMap<String, Option<Counter>>,
    after: &HashMap<String, Option<Counter>>,
) -> Result<(), sqlx::Error> {
    let changed = after
        .iter()
        .filter(|(key, counter)| before.get(*key) != Some(counter));
    let (kept, forgotten): (Vec<_>, Vec<_>) = changed.partition(|(_, counter)| counter.is_some());
    let kept: Vec<(&String, Counter)> = kept
        .into_iter()
        .filter_map(|(key, counter)| Some((key, (*counter)?)))
        .collect();
    if !kept.is_empty() {
        let sql = format!(
            "insert into login_failures (key, window_start, failures) values {} \
             on conflict (key) do update set \
               window_start = excluded.window_start, failures = excluded.failures",
            value_rows(kept.len(), 1, 3)
        );
        let mut upsert = sqlx::query(&sql);
        for (key, counter) in &kept {
            upsert = upsert
                .bind(key.as_str())
                .bind(counter.window_start)
                .bind(counter.failures);
        }
        upsert.execute(&mut *tx).await?;
    }
    if !forgotten.is_empty() {
        let sql = format!(
            "delete from login_failures where key in ({})",
            placeholders(1, forgotten.len())
        );
        let mut delete = sqlx::query(&sql);
        for (key, _) in &forgotten {
            delete = delete.bind(key.as_str());
        }
        delete.execute(&mut *tx).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reserve(keys: &[(&str, i64)], now: i64) -> CounterOp {
        CounterOp::Reserve {
            budgets: keys.iter().map(|(k, max)| (k.to_string(), *max)).collect(),
            now,
            window_ms: 100,
        }
    }

    #[test]
    fn attempts_in_one_batch_spend_a_budget_exactly_and_all_or_none() {
        let mut counters = HashMap::new();
        let answers: Vec<_> = (0..5)
            .map(|_| apply(&mut counters, &reserve(&[("user", 10), ("addr", 3)], 10)))
            .collect();
        assert_eq!(answers.iter().filter(|a| a.is_ok()).count(), 3);
        assert_eq!(
            answers[3],
            Err(110),
            "refused until the address window ends"
        );
        let user = counters["user"].unwrap();
        assert_eq!(user.failures, 3, "a refused attempt takes nothing");
    }

    #[test]
    fn a_release_gives_back_only_its_own_window_and_forgets() {
        let mut counters = HashMap::new();
        let slots = apply(&mut counters, &reserve(&[("user", 2), ("addr", 2)], 10)).unwrap();
        apply(&mut counters, &reserve(&[("addr", 2)], 20)).unwrap();
        apply(
            &mut counters,
            &CounterOp::Release {
                slots,
                forget: Some("user".into()),
            },
        )
        .unwrap();
        assert_eq!(counters["user"], None);
        assert_eq!(counters["addr"].unwrap().failures, 1);
        // A new window starts from one; an old slot given back there changes nothing.
        let old = apply(&mut counters, &reserve(&[("addr", 2)], 10)).unwrap();
        apply(&mut counters, &reserve(&[("addr", 2)], 500)).unwrap();
        apply(
            &mut counters,
            &CounterOp::Release {
                slots: old,
                forget: None,
            },
        )
        .unwrap();
        assert_eq!(
            counters["addr"].unwrap(),
            Counter {
                window_start: 500,
                failures: 1
            }
        );
    }
}
