//! A socket's outbound queue: what the server has decided to send and the peer has not taken
//! yet, bounded in bytes (`WS_MAX_OUTBOUND_BYTES`).
//!
//! The protocol library writes each message and waits for it before it polls the socket's
//! subscriptions again; written straight to the socket, a peer that stops reading would stall
//! that loop, and with it every event of the socket, in buffers nobody bounds (the
//! subscriptions' queues at the hub, tungstenite's write buffer). Here the library hands its
//! messages to the queue without waiting (`push`), one writer (`write`) takes them to the
//! socket one at a time, each flushed before the next, and a message that would take the
//! queue past its bound is refused: the socket is then closed with 4413 (`ws::serve`) and
//! nothing more is queued for it. What a socket costs the server while its peer does not read
//! is so at most the bound (or one message, when a single one is larger), however many events
//! are produced for it, and the other sockets, even of the same user, are not slowed: the hub
//! hands events over without waiting (`cache::EventHub::publish`).
//!
//! `gateway_ws_outbound_bytes` is the sum over the sockets of what their queues hold (the
//! message being written included).

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use axum::extract::ws::{Message, WebSocket};
use futures_util::stream::SplitSink;
use futures_util::SinkExt;
use prometheus::IntGauge;
use tokio::sync::Notify;

/// The socket's write half, shared by the writer, the keep-alive's Pings and the closes.
pub type SharedSink = std::sync::Arc<tokio::sync::Mutex<SplitSink<WebSocket, Message>>>;

/// One socket's queue (module comment).
pub struct Outbound {
    state: Mutex<State>,
    /// Wakes the writer when a message is queued.
    queued: Notify,
    /// Fired once, when a message did not fit.
    overflow: Notify,
    max_bytes: usize,
    gauge: IntGauge,
}

#[derive(Default)]
struct State {
    messages: VecDeque<Message>,
    /// Bytes queued, the message being written included.
    bytes: usize,
    /// A message did not fit: nothing more is queued.
    overflowed: bool,
}

/// What a message costs the queue: its payload (frame headers are a few bytes each).
fn size(message: &Message) -> usize {
    match message {
        Message::Text(text) => text.as_str().len(),
        Message::Binary(bytes) | Message::Ping(bytes) | Message::Pong(bytes) => bytes.len(),
        Message::Close(frame) => {
            2 + frame
                .as_ref()
                .map_or(0, |frame| frame.reason.as_str().len())
        }
    }
}

impl Outbound {
    pub fn new(max_bytes: usize, gauge: IntGauge) -> Outbound {
        Outbound {
            state: Mutex::default(),
            queued: Notify::new(),
            overflow: Notify::new(),
            max_bytes,
            gauge,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Each change to the state is made whole under the lock: what a panic left is
        // consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `message` for the writer, without waiting. A message that would take the queue
    /// past its bound (unless the queue is empty: a single large message goes alone) is
    /// refused, and so is every one after it; the first refusal returns true (the socket is
    /// then to be closed, `overflowed`).
    pub fn push(&self, message: Message) -> bool {
        let len = size(&message);
        let mut state = self.lock();
        if state.overflowed {
            return false;
        }
        if state.bytes > 0 && state.bytes + len > self.max_bytes {
            state.overflowed = true;
            // What waits is not sent any more: the close goes next.
            let waiting = state.bytes_waiting();
            state.bytes -= waiting;
            state.messages.clear();
            self.gauge.sub(waiting as i64);
            drop(state);
            self.overflow.notify_one();
            return true;
        }
        state.bytes += len;
        state.messages.push_back(message);
        drop(state);
        self.gauge.add(len as i64);
        self.queued.notify_one();
        false
    }

    /// Resolves once a message did not fit.
    pub async fn overflowed(&self) {
        self.overflow.notified().await;
    }

    /// Writes the queued messages to `sink`, one at a time, each flushed before the next,
    /// for as long as the socket lives; resolves only when a write fails.
    pub async fn write(&self, sink: &SharedSink) -> axum::Error {
        loop {
            if let Err(err) = self.write_queued(sink).await {
                return err;
            }
            self.queued.notified().await;
        }
    }

    /// Writes what is queued now (the library's last messages before the socket closes).
    pub async fn write_queued(&self, sink: &SharedSink) -> Result<(), axum::Error> {
        loop {
            let Some(message) = self.lock().messages.pop_front() else {
                return Ok(());
            };
            let len = size(&message);
            // Counted until written: it is held (here, then in tungstenite's buffer) until the
            // kernel has taken it. A write cancelled (the socket closing) gives it back in
            // `Drop`.
            let written = Written {
                outbound: self,
                len,
            };
            let result = sink.lock().await.send(message).await;
            drop(written);
            result?;
        }
    }

    /// Bytes the queue holds now, the message being written included.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.lock().bytes
    }
}

impl State {
    /// Bytes of the messages not yet taken by the writer.
    fn bytes_waiting(&self) -> usize {
        self.messages.iter().map(size).sum()
    }
}

/// A message taken by the writer: its bytes leave the queue's count when it is written, or
/// when the write is dropped.
struct Written<'a> {
    outbound: &'a Outbound,
    len: usize,
}

impl Drop for Written<'_> {
    fn drop(&mut self) {
        let mut state = self.outbound.lock();
        state.bytes = state.bytes.saturating_sub(self.len);
        drop(state);
        self.outbound.gauge.sub(self.len as i64);
    }
}

impl Drop for Outbound {
    fn drop(&mut self) {
        // What never reached the socket leaves the server's gauge with it.
        let waiting = self.lock().bytes_waiting();
        self.gauge.sub(waiting as i64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(len: usize) -> Message {
        Message::Text("x".repeat(len).into())
    }

    #[test]
    fn messages_queue_up_to_the_bound_then_the_queue_overflows_once() {
        let gauge = IntGauge::new("t", "t").expect("gauge");
        let outbound = Outbound::new(100, gauge.clone());
        assert!(!outbound.push(text(60)));
        assert!(!outbound.push(text(40)));
        assert_eq!((outbound.bytes(), gauge.get()), (100, 100));
        // One byte more does not fit: the queue overflows and lets go of what it held.
        assert!(outbound.push(text(1)));
        assert_eq!((outbound.bytes(), gauge.get()), (0, 0));
        // Later messages are refused without a second overflow.
        assert!(!outbound.push(text(1)));
        assert_eq!(outbound.bytes(), 0);
    }

    #[test]
    fn a_single_message_larger_than_the_bound_goes_alone() {
        let gauge = IntGauge::new("t", "t").expect("gauge");
        let outbound = Outbound::new(100, gauge.clone());
        assert!(!outbound.push(text(500)));
        assert_eq!(gauge.get(), 500);
        assert!(outbound.push(text(1)));
        drop(outbound);
        assert_eq!(gauge.get(), 0);
    }
}
