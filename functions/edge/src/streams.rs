//! Reading and writing WASI 0.2 streams with a size bound and, for the origin, a deadline: a
//! pollable that becomes ready when the time is up, waited on beside the stream's own.

use wasip2::io::poll::{Pollable, poll};
use wasip2::io::streams::{InputStream, OutputStream, StreamError};

/// How much is asked of a stream at a time.
const CHUNK: u64 = 64 * 1024;

/// How far past the size limit a body is read (and dropped) before the 413 answer.
const DRAIN_FACTOR: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadError {
    /// Longer than allowed.
    TooLarge,
    /// The stream failed (the peer went away).
    Failed,
    /// The deadline passed first.
    TimedOut,
}

/// Waits until `ready` can make progress, or the deadline passes (`false`).
fn wait(ready: &Pollable, deadline: Option<&Pollable>) -> bool {
    match deadline {
        None => {
            ready.block();
            true
        }
        Some(deadline) => {
            let woken = poll(&[ready, deadline]);
            woken.contains(&0) || !deadline.ready()
        }
    }
}

/// Reads a stream to its end, keeping at most `max` bytes.
pub fn read_bounded(
    stream: &InputStream,
    max: usize,
    deadline: Option<&Pollable>,
) -> Result<Vec<u8>, ReadError> {
    let mut kept = Vec::new();
    let mut seen = 0usize;
    loop {
        match stream.read(CHUNK) {
            Ok(chunk) if chunk.is_empty() => {
                if !wait(&stream.subscribe(), deadline) {
                    return Err(ReadError::TimedOut);
                }
            }
            Ok(chunk) => {
                seen = seen.saturating_add(chunk.len());
                if seen <= max {
                    kept.extend_from_slice(&chunk);
                } else if seen > max.saturating_mul(DRAIN_FACTOR) {
                    return Err(ReadError::TooLarge);
                }
            }
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(_)) => return Err(ReadError::Failed),
        }
    }
    if seen > max {
        return Err(ReadError::TooLarge);
    }
    Ok(kept)
}

/// Writes all of `bytes` and flushes; `Err` when the stream fails or the deadline passes.
pub fn write_all(
    stream: &OutputStream,
    bytes: &[u8],
    deadline: Option<&Pollable>,
) -> Result<(), ReadError> {
    let mut rest = bytes;
    while !rest.is_empty() {
        let room = stream.check_write().map_err(|_| ReadError::Failed)?;
        if room == 0 {
            if !wait(&stream.subscribe(), deadline) {
                return Err(ReadError::TimedOut);
            }
            continue;
        }
        let take = rest.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let (now, later) = rest.split_at(take);
        stream.write(now).map_err(|_| ReadError::Failed)?;
        rest = later;
    }
    // Once every byte is written, a closed stream is a finished body: a host that knows the
    // length (`content-length`) may close it as soon as the last byte arrives (Wasmtime does).
    match stream.flush() {
        Ok(()) => {}
        Err(StreamError::Closed) => return Ok(()),
        Err(StreamError::LastOperationFailed(_)) => return Err(ReadError::Failed),
    }
    // The flush is done when the stream accepts writes again.
    loop {
        match stream.check_write() {
            Ok(0) => {
                if !wait(&stream.subscribe(), deadline) {
                    return Err(ReadError::TimedOut);
                }
            }
            Ok(_) | Err(StreamError::Closed) => return Ok(()),
            Err(StreamError::LastOperationFailed(_)) => return Err(ReadError::Failed),
        }
    }
}
