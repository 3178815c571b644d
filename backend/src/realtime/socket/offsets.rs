//! What a socket owes its client, in offset order: the `welcome` with the events a resuming
//! client missed (or `reset` when the log no longer has them all), and the events the hub
//! hands it, with any gap between them read from the log.

use axum::extract::ws::Message;

use super::{
    super::{
        frames::{EventFrame, ServerFrame},
        hello::{unavailable, End},
        peer::Outgoing,
    },
    Connection,
};

/// A resuming client that missed more events than this gets the state instead (`reset`).
const MAX_RESUME_EVENTS: i64 = 1_000;

/// Events read from the log at a time while catching a socket up.
const CATCH_UP_PAGE: i64 = 200;

impl Connection {
    /// The state and, when the client knows an offset, the events after it; `reset` when they
    /// are not all kept (or too many). Also what the node says after a socket fell behind
    /// further than the log reaches.
    pub(super) async fn welcome(&mut self, offset: Option<i64>) -> Result<(), End> {
        let board_id = &self.greeted.board_id;
        let snapshot = self
            .realtime
            .snapshot(board_id)
            .await
            .map_err(|e| unavailable(e.into()))?;
        let mut events = Vec::new();
        let mut reset = false;
        if let Some(offset) = offset.filter(|offset| *offset < snapshot.seq) {
            let missed = snapshot.seq - offset;
            if missed > MAX_RESUME_EVENTS {
                reset = true;
            } else {
                events = self
                    .realtime
                    .events_after(board_id, offset, missed)
                    .await
                    .map_err(|e| unavailable(e.into()))?;
                let complete = events.first().is_some_and(|e| e.seq == offset + 1)
                    && events.len() as i64 == missed;
                if !complete {
                    events.clear();
                    reset = true;
                }
            }
        } else if offset.is_some_and(|offset| offset > snapshot.seq) {
            // The client knows offsets this board never had (a restored database?).
            reset = true;
        }
        let frame = ServerFrame::Welcome {
            node: self.realtime.node(),
            board_id,
            offset: snapshot.seq,
            state: &snapshot.state,
            events: events.iter().map(EventFrame::from).collect(),
            reset,
        };
        let text = frame.encode();
        self.sent = snapshot.seq;
        self.realtime.hub().delivered(board_id, snapshot.seq);
        self.send_text(text).await
    }

    /// A frame from the hub: events in offset order, filling gaps from the log.
    pub(super) async fn forward(&mut self, outgoing: Outgoing) -> Result<(), End> {
        match outgoing {
            Outgoing::Frame(text) => self.send(Message::Text(text)).await,
            Outgoing::Event { seq, text } => {
                if seq > self.sent + 1 {
                    self.catch_up().await?;
                }
                if seq == self.sent + 1 {
                    self.sent = seq;
                    self.send(Message::Text(text)).await?;
                }
                Ok(())
            }
        }
    }

    /// Sends every event after the last one sent, from the log.
    pub(super) async fn catch_up(&mut self) -> Result<(), End> {
        loop {
            let events = self
                .realtime
                .events_after(&self.greeted.board_id, self.sent, CATCH_UP_PAGE)
                .await
                .map_err(|e| unavailable(e.into()))?;
            if events.first().is_some_and(|e| e.seq != self.sent + 1) {
                // Trimmed from the log meanwhile: the state is all there is.
                return self.welcome(None).await;
            }
            let full_page = events.len() as i64 == CATCH_UP_PAGE;
            for event in &events {
                self.sent = event.seq;
                let text = ServerFrame::Event(EventFrame::from(event)).encode();
                self.send_text(text).await?;
            }
            if !full_page {
                return Ok(());
            }
        }
    }
}
