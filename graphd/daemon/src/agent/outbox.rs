//! The agent's disk buffer: batches written to the local mirror wait here, in order, until the
//! central graphd acknowledges them.
//!
//! One append-only file of records (`length · checksum · IngestRequest`), and beside it the
//! offset of the first record not yet acknowledged. A torn record at the end (the process
//! died while appending) is cut off at open. When everything is acknowledged the file is
//! emptied. The buffer is bounded: a batch that would take it past its size is not queued,
//! the agent says so once, loudly, and the next connection brings the central graph up to date
//! by a full resync from the mirror instead of replaying the queue.

use graphd_proto::v1 as pb;
use prost::Message;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// Bytes before each record: its length (u32) and the xxh3 of its bytes (u64).
const HEADER: usize = 12;

#[derive(Debug)]
pub struct Outbox {
    state: Mutex<State>,
    /// Woken on every append: the forwarder sends what is new.
    appended: tokio::sync::Notify,
    max_bytes: u64,
}

#[derive(Debug)]
struct State {
    file: File,
    acked_path: PathBuf,
    /// Bytes in the file (complete records only).
    len: u64,
    /// Offset of the first record not acknowledged.
    acked: u64,
    /// A batch was left out because the buffer was full, since the last full resync.
    overflowed: bool,
}

impl Outbox {
    /// Opens (creating) the buffer in `dir`, holding at most `max_bytes` of batches.
    pub fn open(dir: &Path, max_bytes: u64) -> std::io::Result<Outbox> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("outbox.log");
        let acked_path = dir.join("outbox.acked");
        let mut file = OpenOptions::new().read(true).append(true).create(true).open(&path)?;
        let acked = match std::fs::read(&acked_path) {
            Ok(bytes) => bytes.try_into().map(u64::from_be_bytes).unwrap_or(0),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e),
        };
        let len = complete_length(&mut file)?;
        if len < file.metadata()?.len() {
            tracing::warn!(path = %path.display(), "cutting off a record torn by an earlier crash");
            file.set_len(len)?;
        }
        let state = State { file, acked_path, len, acked: acked.min(len), overflowed: false };
        Ok(Outbox { state: Mutex::new(state), appended: tokio::sync::Notify::new(), max_bytes })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues one batch; when the buffer is full, leaves it out and marks the queue incomplete.
    pub fn append(&self, request: &pb::IngestRequest) -> std::io::Result<()> {
        let payload = request.encode_to_vec();
        let mut state = self.lock();
        let queued = state.len - state.acked;
        if queued + (HEADER + payload.len()) as u64 > self.max_bytes {
            if !state.overflowed {
                tracing::warn!(
                    queued_bytes = queued,
                    max_bytes = self.max_bytes,
                    "the agent's buffer is full: changes are no longer queued while the central graphd is away; \
                     the central graph will be brought up to date by a full resync when it is back"
                );
            }
            state.overflowed = true;
            return Ok(());
        }
        let mut record = Vec::with_capacity(HEADER + payload.len());
        record.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        record.extend_from_slice(&xxhash_rust::xxh3::xxh3_64(&payload).to_be_bytes());
        record.extend_from_slice(&payload);
        state.file.write_all(&record)?;
        state.len += record.len() as u64;
        drop(state);
        self.appended.notify_one();
        Ok(())
    }

    /// The first batch not acknowledged, with the offset that acknowledges it.
    pub fn next(&self) -> std::io::Result<Option<(u64, pb::IngestRequest)>> {
        let mut state = self.lock();
        if state.acked >= state.len {
            return Ok(None);
        }
        let at = state.acked;
        let record = read_record(&mut state.file, at)?
            .ok_or_else(|| std::io::Error::other(format!("outbox record at {at} is unreadable")))?;
        let request = pb::IngestRequest::decode(record.as_slice()).map_err(std::io::Error::other)?;
        Ok(Some((at + (HEADER + record.len()) as u64, request)))
    }

    /// Marks everything before `offset` acknowledged; an empty queue empties the file.
    pub fn ack(&self, offset: u64) -> std::io::Result<()> {
        let mut state = self.lock();
        state.acked = offset.min(state.len);
        if state.acked == state.len {
            state.file.set_len(0)?;
            state.len = 0;
            state.acked = 0;
        }
        let tmp = state.acked_path.with_extension("tmp");
        std::fs::write(&tmp, state.acked.to_be_bytes())?;
        std::fs::rename(&tmp, &state.acked_path)
    }

    /// Whether a batch was left out since the last [`Outbox::resynced`].
    pub fn overflowed(&self) -> bool {
        self.lock().overflowed
    }

    /// Drops the queue: a full resync is about to make the central graph what the mirror is.
    pub fn discard(&self) -> std::io::Result<()> {
        let len = self.lock().len;
        self.ack(len)
    }

    /// A full resync went through: the queue is complete again from here on.
    pub fn resynced(&self) {
        self.lock().overflowed = false;
    }

    /// Bytes queued and not acknowledged.
    pub fn queued_bytes(&self) -> u64 {
        let state = self.lock();
        state.len - state.acked
    }

    /// Completes when a batch is appended (or was, since the last wait).
    pub async fn appended(&self) {
        self.appended.notified().await
    }
}

/// The record at `offset`, or `None` when the bytes there are not a whole, intact record.
fn read_record(file: &mut File, offset: u64) -> std::io::Result<Option<Vec<u8>>> {
    file.seek(SeekFrom::Start(offset))?;
    let mut header = [0u8; HEADER];
    if let Err(e) = file.read_exact(&mut header) {
        return if e.kind() == std::io::ErrorKind::UnexpectedEof { Ok(None) } else { Err(e) };
    }
    let len = u32::from_be_bytes(header[..4].try_into().expect("4 bytes")) as usize;
    let sum = u64::from_be_bytes(header[4..].try_into().expect("8 bytes"));
    let mut payload = vec![0u8; len];
    if let Err(e) = file.read_exact(&mut payload) {
        return if e.kind() == std::io::ErrorKind::UnexpectedEof { Ok(None) } else { Err(e) };
    }
    Ok((xxhash_rust::xxh3::xxh3_64(&payload) == sum).then_some(payload))
}

/// The length of the run of whole records from the start of `file`.
fn complete_length(file: &mut File) -> std::io::Result<u64> {
    let mut at = 0;
    while let Some(record) = read_record(file, at)? {
        at += (HEADER + record.len()) as u64;
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(source: &str) -> pb::IngestRequest {
        pb::IngestRequest { source: source.into(), ..Default::default() }
    }

    #[test]
    fn batches_wait_in_order_until_acknowledged_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path(), 1 << 20).unwrap();
        outbox.append(&batch("a")).unwrap();
        outbox.append(&batch("b")).unwrap();
        let (after_a, a) = outbox.next().unwrap().unwrap();
        assert_eq!(a.source, "a");
        outbox.ack(after_a).unwrap();
        drop(outbox);
        let outbox = Outbox::open(dir.path(), 1 << 20).unwrap();
        let (after_b, b) = outbox.next().unwrap().unwrap();
        assert_eq!(b.source, "b", "a reopened buffer resumes after the last acknowledgement");
        outbox.ack(after_b).unwrap();
        assert!(outbox.next().unwrap().is_none());
        assert_eq!(std::fs::metadata(dir.path().join("outbox.log")).unwrap().len(), 0, "emptied");
    }

    #[test]
    fn a_torn_record_is_cut_off_and_a_full_buffer_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path(), 64).unwrap();
        outbox.append(&batch("kept")).unwrap();
        drop(outbox);
        let mut file = OpenOptions::new().append(true).open(dir.path().join("outbox.log")).unwrap();
        file.write_all(&[0, 0, 0, 9, 1, 2]).unwrap();
        let outbox = Outbox::open(dir.path(), 64).unwrap();
        assert_eq!(outbox.next().unwrap().unwrap().1.source, "kept");
        assert!(!outbox.overflowed());
        outbox.append(&batch(&"x".repeat(100))).unwrap();
        assert!(outbox.overflowed(), "a batch past the bound is left out and marked");
        assert_eq!(outbox.queued_bytes(), (HEADER + batch("kept").encoded_len()) as u64);
        outbox.discard().unwrap();
        outbox.resynced();
        assert!(!outbox.overflowed() && outbox.next().unwrap().is_none());
    }
}
