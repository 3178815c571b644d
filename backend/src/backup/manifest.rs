//! What a backup holds, written last and read first: the manifest, and the files (parts) it
//! vouches for by size and SHA-256.
//!
//! `manifest.sha256` holds the manifest's own digest in `sha256sum` format, so an operator can
//! also check it with standard tools, and a truncated or edited manifest is caught before any
//! of its claims is believed.

use std::{
    fs,
    io::{self, BufWriter, Write},
    path::Path,
};

use boardcast_sync::{Digest, Hasher};
use serde::{Deserialize, Serialize};

use crate::store::Column;

/// What a manifest's `format` says, so a stray JSON file is never taken for a backup.
pub const FORMAT: &str = "boardcast-backup";

/// The layout this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

pub const MANIFEST: &str = "manifest.json";
pub const MANIFEST_DIGEST: &str = "manifest.sha256";
/// The blobs a backup needs, one JSON object per line.
pub const BLOB_LIST: &str = "blobs.jsonl";
pub const TABLES_DIR: &str = "tables";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    /// The newest migration of the database the backup was taken from.
    pub schema_version: i64,
    /// RFC 3339, when the consistent read began.
    pub created_at: String,
    pub source: Source,
    pub tables: Vec<TablePart>,
    pub blobs: BlobsPart,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Source {
    pub node_id: String,
    /// `sqlite` or `postgres`.
    pub engine: String,
    pub boardcast_version: String,
}

/// A file of the backup and what it must hash to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// Relative to the backup's directory.
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
}

/// One table: a JSON array of values per line, in the order of `columns`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TablePart {
    pub name: String,
    pub columns: Vec<Column>,
    pub rows: u64,
    #[serde(flatten)]
    pub part: Part,
}

/// The list of blobs, which live once per backups directory under `blobs/`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BlobsPart {
    pub count: u64,
    /// The blobs' own size, not the list's.
    pub total_bytes: u64,
    #[serde(flatten)]
    pub part: Part,
}

/// One line of the blob list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BlobEntry {
    #[serde(with = "hex_digest")]
    pub sha256: Digest,
    pub size: u64,
}

impl Manifest {
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }

    /// Writes `manifest.json` and its digest, both flushed to disk.
    pub fn write(&self, dir: &Path) -> io::Result<()> {
        let mut json = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        json.push(b'\n');
        write_synced(&dir.join(MANIFEST), &json)?;
        let line = format!("{}  {MANIFEST}\n", Digest::of(&json));
        write_synced(&dir.join(MANIFEST_DIGEST), line.as_bytes())
    }

    /// Reads a backup's manifest, checked against its digest; the error names the file.
    pub fn read(dir: &Path) -> Result<Self, String> {
        let expected = fs::read_to_string(dir.join(MANIFEST_DIGEST))
            .map_err(|e| format!("{MANIFEST_DIGEST}: {}", missing_or(e)))?;
        let expected = expected
            .split_whitespace()
            .next()
            .and_then(|hex| hex.parse::<Digest>().ok())
            .ok_or_else(|| format!("{MANIFEST_DIGEST}: damaged (no SHA-256 in it)"))?;
        let json =
            fs::read(dir.join(MANIFEST)).map_err(|e| format!("{MANIFEST}: {}", missing_or(e)))?;
        if Digest::of(&json) != expected {
            return Err(format!(
                "{MANIFEST}: damaged (its SHA-256 differs from {MANIFEST_DIGEST})"
            ));
        }
        let manifest: Self =
            serde_json::from_slice(&json).map_err(|e| format!("{MANIFEST}: unreadable ({e})"))?;
        if manifest.format != FORMAT || manifest.format_version != FORMAT_VERSION {
            return Err(format!(
                "{MANIFEST}: format {} version {}, but this boardcast reads {FORMAT} version \
                 {FORMAT_VERSION}",
                manifest.format, manifest.format_version
            ));
        }
        Ok(manifest)
    }
}

/// "missing" for a file that is not there, the system's words otherwise.
pub fn missing_or(error: io::Error) -> String {
    if error.kind() == io::ErrorKind::NotFound {
        "missing".into()
    } else {
        format!("unreadable ({error})")
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// A part being written: counts and hashes every byte on its way to disk.
pub struct PartWriter {
    file: BufWriter<fs::File>,
    hasher: Hasher,
    lines: u64,
}

impl PartWriter {
    pub fn create(path: &Path) -> io::Result<Self> {
        Ok(Self {
            file: BufWriter::with_capacity(1 << 20, fs::File::create(path)?),
            hasher: Hasher::default(),
            lines: 0,
        })
    }

    /// Writes one value as a line of JSON.
    pub fn line(&mut self, value: &impl Serialize) -> io::Result<()> {
        let mut bytes = serde_json::to_vec(value).map_err(io::Error::other)?;
        bytes.push(b'\n');
        self.hasher.update(&bytes);
        self.lines += 1;
        self.file.write_all(&bytes)
    }

    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// Flushes to disk; the part's size and digest.
    pub fn finish(self, file: String) -> io::Result<Part> {
        let written = self.file.into_inner().map_err(|e| e.into_error())?;
        written.sync_all()?;
        let (digest, bytes) = self.hasher.finish();
        Ok(Part {
            file,
            bytes,
            sha256: digest.to_hex(),
        })
    }
}

/// Digests as the 64 hex digits they are everywhere else.
mod hex_digest {
    use boardcast_sync::Digest;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(digest: &Digest, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&digest.to_hex())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Digest, D::Error> {
        let text = <&str>::deserialize(deserializer)?;
        text.parse().map_err(D::Error::custom)
    }
}
