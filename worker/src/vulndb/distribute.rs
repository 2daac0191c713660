//! Distribution of the vulnerability database to workers through a JetStream object store.
//!
//! A bucket holds every published database as an object named by its version, and one small
//! object, `latest`, announcing the current version with the sha256 and size the publisher
//! computed from its own file. Workers trust the announcement alone: a version object whose bytes
//! do not hash to what `latest` announces is refused, whatever the object store's own digest
//! says, so bytes replaced under a version's name never reach a matcher. The announcement is
//! written only after the version object is stored, so whoever sees it change finds the object
//! complete, and it moves in one message, so a watcher sees one event per new version.
//!
//! NATS is transport here, as everywhere in Argus: a lost or damaged object costs a worker its
//! upgrade (it keeps matching with the database it has) and `argus db publish` can simply be run
//! again. Only what nats-server 2.9 offers is used (object store, ordered push consumers); a
//! follower polls besides watching, because a watch misses what changes while it is down.

use std::future::Future;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::jetstream::{self, object_store::Watch};
use base64::Engine;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tracing::{debug, info, warn};

use super::{DbSlot, VulnDb, VulnDbError};

mod bucket;
use bucket::Bucket;

/// The bucket `argus db publish` and workers use unless told otherwise.
pub const DEFAULT_BUCKET: &str = "argus-vulndb";
/// Older versions `argus db publish` keeps besides the latest, for workers still downloading.
pub const DEFAULT_KEEP_OLD: usize = 2;
/// The object announcing the current version.
pub const LATEST: &str = "latest";
/// Downloaded databases are stored in the follower's directory as `<version>.vdb`.
pub const FILE_SUFFIX: &str = ".vdb";
const ANNOUNCEMENT_FORMAT: u32 = 1;
/// A download that receives nothing for this long is abandoned (and retried by a follower).
const STALL: Duration = Duration::from_secs(30);
const MIN_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum DistributeError {
    #[error("nats: {context}: {message}")]
    Nats { context: String, message: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Db(#[from] VulnDbError),
    /// The download does not match the announcement, or does not open as that database.
    #[error("vulnerability database {version} refused: {reason}")]
    Refused { version: String, reason: String },
    #[error("vulnerability database {version} is announced but bucket {bucket} does not hold it")]
    Missing { bucket: String, version: String },
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = DistributeError> = std::result::Result<T, E>;

fn nats<E: std::fmt::Display>(context: impl Into<String>) -> impl FnOnce(E) -> DistributeError {
    let context = context.into();
    move |e| DistributeError::Nats {
        context,
        message: e.to_string(),
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DistributeError + '_ {
    move |source| DistributeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DistributeError::Invalid(format!("blocking task failed: {e}")))?
}

/// A JetStream context on `url` for publishing or following. The first connection fails rather
/// than waits when no server answers; once connected, the client reconnects on its own.
pub async fn connect(url: &str) -> Result<jetstream::Context> {
    let client = async_nats::ConnectOptions::new()
        .name("argus-vulndb")
        .connect(url)
        .await
        .map_err(nats(format!("connecting to {url}")))?;
    Ok(jetstream::new(client))
}

/// What `latest` holds. Persisted in the bucket, hence the format number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcement {
    pub format: u32,
    pub version: String,
    /// `sha256:<hex>` of the whole file.
    pub sha256: String,
    pub size: u64,
    /// The database's own content digest (advisories, EPSS, KEV), for display.
    pub content_digest: String,
    pub published_at: String,
}

impl Announcement {
    /// The announcement comes from the network and its version names a file on disk: anything
    /// but the exact shapes written by `publish` is refused before it is used.
    fn check(self) -> Result<Announcement> {
        let bad = |m: String| Err(DistributeError::Invalid(format!("{LATEST}: {m}")));
        if self.format != ANNOUNCEMENT_FORMAT {
            return bad(format!(
                "format {}, this argus reads {ANNOUNCEMENT_FORMAT}",
                self.format
            ));
        }
        if !is_version(&self.version) {
            return bad(format!("{:?} is not a database version", self.version));
        }
        let hex = self.sha256.strip_prefix("sha256:").unwrap_or("");
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
            return bad(format!("{:?} is not a sha256", self.sha256));
        }
        Ok(self)
    }
}

/// `<YYYYmmddTHHMMSSZ>-<12 hex>` as `Builder::finish` writes it. Versions of this shape sort by
/// build time as strings.
pub fn is_version(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 29
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'T'
        && b[9..15].iter().all(u8::is_ascii_digit)
        && b[15] == b'Z'
        && b[16] == b'-'
        && b[17..].iter().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
}

/// What [`publish`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub version: String,
    /// `sha256:<hex>` of the file.
    pub sha256: String,
    pub size: u64,
    /// False when the bucket already held this version with these bytes.
    pub uploaded: bool,
    /// Whether `latest` was moved (false when it already announced this file).
    pub announced: bool,
    /// Older versions deleted by retention.
    pub removed: Vec<String>,
}

/// Uploads the database at `path` as object `<version>` and announces it as `latest`, then
/// deletes versions older than the newest `keep_old` predecessors. Publishing a file again
/// uploads nothing; publishing a version older than the announced one is refused, since
/// followers only ever move forward.
pub async fn publish(js: &jetstream::Context, bucket: &str, path: &Path, keep_old: usize) -> Result<Published> {
    let local = LocalFile::inspect(path).await?;
    let b = Bucket::open_or_create(js, bucket).await?;
    let current = b.announcement().await?.map(|(_, a)| a);
    if let Some(cur) = &current {
        if cur.version > local.version {
            return Err(DistributeError::Invalid(format!(
                "{}: version {} is older than the published {}; followers never go back",
                path.display(),
                local.version,
                cur.version
            )));
        }
    }
    let store_digest = object_store_digest(&local.sha256);
    let existing = b.info(&local.version).await?;
    let uploaded = match existing {
        Some(i) if i.digest.as_deref() == Some(store_digest.as_str()) && i.size as u64 == local.size => false,
        _ => {
            let mut file = tokio::fs::File::from_std(local.file);
            let description = format!("argus vulnerability database {} {}", local.version, local.sha256);
            let stored = b.put(&local.version, Some(description), &mut file).await?;
            // The store hashed what it received: equal digests mean the bytes announced below
            // are the bytes that were checked to open as this version.
            if stored.digest.as_deref() != Some(store_digest.as_str()) || stored.size as u64 != local.size {
                return Err(DistributeError::Invalid(format!(
                    "{}: the file changed while it was uploaded; publish again",
                    path.display()
                )));
            }
            true
        }
    };
    let ann = Announcement {
        format: ANNOUNCEMENT_FORMAT,
        version: local.version.clone(),
        sha256: local.sha256.clone(),
        size: local.size,
        content_digest: local.content_digest.clone(),
        published_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    // Rewriting an identical announcement would wake every follower for nothing.
    let announced = !current.is_some_and(|c| c.version == ann.version && c.sha256 == ann.sha256);
    if announced {
        let json = serde_json::to_vec(&ann).map_err(|e| DistributeError::Invalid(e.to_string()))?;
        b.put(LATEST, Some(format!("latest: {}", ann.version)), &mut json.as_slice())
            .await?;
        info!(bucket, version = %ann.version, size = ann.size, "vulnerability database published");
    }
    let removed = b.retain(&ann.version, keep_old).await?;
    Ok(Published {
        version: ann.version,
        sha256: ann.sha256,
        size: ann.size,
        uploaded,
        announced,
        removed,
    })
}

/// Downloads the announced database into `dir` (or finds it there already), verified against
/// the announcement and opened once as that version. `None` when nothing is published.
pub async fn fetch_latest(js: &jetstream::Context, bucket: &str, dir: &Path) -> Result<Option<PathBuf>> {
    let Some(b) = Bucket::open(js, bucket).await? else {
        return Ok(None);
    };
    let Some((_, ann)) = b.announcement().await? else {
        return Ok(None);
    };
    if let Some(path) = local_copy(&ann, dir).await? {
        return Ok(Some(path));
    }
    let object = b.object(&ann).await?;
    b.download(&ann, &object, dir).await.map(Some)
}

/// Keeps `slot` on the newest published database until `stop` completes: checks on start, on
/// every change of `latest` seen by a watch, and every `poll`. A refused or failed download is
/// logged and the slot keeps its database; errors (NATS down, bucket missing) are retried with
/// backoff. Database files in `dir` older than the one installed are deleted (jobs that still
/// map them keep reading them).
pub async fn follow(
    js: &jetstream::Context,
    bucket: &str,
    dir: &Path,
    slot: DbSlot,
    poll: Duration,
    stop: impl Future<Output = ()>,
) {
    let mut stop = std::pin::pin!(stop);
    let mut follower = Follower::default();
    let mut watch: Option<Watch> = None;
    let mut backoff = MIN_BACKOFF;
    loop {
        // The watch is opened before the check so that a change made during the check wakes
        // the next round.
        let round = async {
            if watch.is_none() {
                watch = open_watch(js, bucket).await;
            }
            follower.sync(js, bucket, dir, &slot).await
        };
        let outcome = tokio::select! {
            _ = &mut stop => return,
            r = round => r,
        };
        let wait = match outcome {
            Ok(()) => {
                backoff = MIN_BACKOFF;
                poll
            }
            Err(e) => {
                warn!(bucket, error = %e, retry_in = ?backoff, "vulnerability database update failed");
                let w = backoff;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                w
            }
        };
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let lost = tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep_until(deadline) => break,
                changed = next_change(&mut watch) => !changed,
            };
            if lost {
                // Polling carries on; the next round opens a new watch.
                watch = None;
            } else {
                break;
            }
        }
    }
}

async fn open_watch(js: &jetstream::Context, bucket: &str) -> Option<Watch> {
    let b = Bucket::open(js, bucket).await.ok()??;
    match b.store.watch().await {
        Ok(w) => Some(w),
        Err(e) => {
            debug!(bucket, error = %e, "cannot watch the vulnerability database bucket");
            None
        }
    }
}

/// Waits for a change of `latest`: true when one came, false when the watch broke. Without a
/// watch it never returns.
async fn next_change(watch: &mut Option<Watch>) -> bool {
    let Some(w) = watch.as_mut() else {
        return std::future::pending().await;
    };
    loop {
        match w.next().await {
            Some(Ok(info)) if info.name == LATEST => return true,
            Some(Ok(_)) => continue,
            Some(Err(e)) => {
                debug!(error = %e, "vulnerability database watch broke");
                return false;
            }
            None => return false,
        }
    }
}

/// What a follower remembers between rounds.
#[derive(Default)]
struct Follower {
    /// The last announcement read, by the nuid of the `latest` object it came from: an
    /// unchanged `latest` is not read again.
    announcement: Option<(String, Announcement)>,
    /// A version refused, with the nuid of the object that was refused and why: the same bytes
    /// are not downloaded again until the object or the announcement changes.
    refused: Option<(String, String, String)>,
}

impl Follower {
    async fn sync(&mut self, js: &jetstream::Context, bucket: &str, dir: &Path, slot: &DbSlot) -> Result<()> {
        let Some(b) = Bucket::open(js, bucket).await? else {
            debug!(bucket, "no vulnerability database published yet");
            return Ok(());
        };
        let Some(info) = b.info(LATEST).await? else {
            debug!(bucket, "no vulnerability database published yet");
            return Ok(());
        };
        let ann = match &self.announcement {
            Some((nuid, a)) if *nuid == info.nuid => a.clone(),
            _ => {
                let a = b.read_announcement(&info).await?;
                self.announcement = Some((info.nuid.clone(), a.clone()));
                a
            }
        };
        let current = slot.version();
        if ann.version <= current {
            return Ok(());
        }
        let path = match local_copy(&ann, dir).await? {
            Some(p) => p,
            None => {
                let object = b.object(&ann).await?;
                if let Some((version, nuid, reason)) = &self.refused {
                    if *version == ann.version && *nuid == object.nuid {
                        return Err(DistributeError::Refused {
                            version: version.clone(),
                            reason: format!("{reason} (not downloaded again until it is republished)"),
                        });
                    }
                }
                match b.download(&ann, &object, dir).await {
                    Ok(p) => p,
                    Err(DistributeError::Refused { version, reason }) => {
                        self.refused = Some((version.clone(), object.nuid.clone(), reason.clone()));
                        return Err(DistributeError::Refused { version, reason });
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        let opened = path.clone();
        let db = blocking(move || Ok(VulnDb::open(&opened)?)).await?;
        if db.meta().version != ann.version {
            return Err(DistributeError::Refused {
                version: ann.version.clone(),
                reason: format!("{} now holds version {}", path.display(), db.meta().version),
            });
        }
        slot.replace(db);
        self.refused = None;
        info!(bucket, from = %current, to = %ann.version, "vulnerability database switched");
        prune(dir, &ann.version);
        Ok(())
    }
}

/// Deletes downloaded databases older than `current`. A job that still maps one keeps its pages:
/// the inode lives until the last mapping goes.
fn prune(dir: &Path, current: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(version) = name.to_str().and_then(|n| n.strip_suffix(FILE_SUFFIX)) else {
            continue;
        };
        if is_version(version) && version < current {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => debug!(version, "old vulnerability database removed"),
                Err(e) => warn!(path = %entry.path().display(), error = %e, "cannot remove old vulnerability database"),
            }
        }
    }
}

/// The object store's own digest format for a `sha256:<hex>` digest.
fn object_store_digest(sha256: &str) -> String {
    let raw = hex::decode(sha256.trim_start_matches("sha256:")).unwrap_or_default();
    format!("SHA-256={}", base64::engine::general_purpose::URL_SAFE.encode(raw))
}

/// `<dir>/<version>.vdb` when it is there and holds exactly the announced bytes. A different
/// file under that name (an interrupted or damaged copy) is removed so it is downloaded again.
async fn local_copy(ann: &Announcement, dir: &Path) -> Result<Option<PathBuf>> {
    let dest = dir.join(format!("{}{FILE_SUFFIX}", ann.version));
    if !tokio::fs::try_exists(&dest).await.map_err(io(&dest))? {
        return Ok(None);
    }
    let path = dest.clone();
    let (sha256, size) = blocking(move || {
        let mut file = std::fs::File::open(&path).map_err(io(&path))?;
        hash_file(&mut file, &path)
    })
    .await?;
    if sha256 != ann.sha256 || size != ann.size {
        warn!(path = %dest.display(), "local copy differs from the announced database; downloading again");
        tokio::fs::remove_file(&dest).await.map_err(io(&dest))?;
        return Ok(None);
    }
    verify_db(&dest, &ann.version).await?;
    Ok(Some(dest))
}

fn hash_file(file: &mut std::fs::File, path: &Path) -> Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let size = std::io::copy(file, &mut hasher).map_err(io(path))?;
    Ok((format!("sha256:{}", hex::encode(hasher.finalize())), size))
}

/// Whether `path` opens as database `version`; anything else is a refusal naming the version.
async fn verify_db(path: &Path, version: &str) -> Result<()> {
    let p = path.to_path_buf();
    let v = version.to_string();
    blocking(move || {
        let refuse = |reason: String| DistributeError::Refused {
            version: v.clone(),
            reason,
        };
        let db = VulnDb::open(&p).map_err(|e| refuse(format!("does not open as a database: {e}")))?;
        if db.meta().version != v {
            return Err(refuse(format!("the file holds version {}", db.meta().version)));
        }
        Ok(())
    })
    .await
}

/// The database file being published, held open so the bytes hashed, checked and uploaded are
/// the same even if `argus db import` renames a new file over the path meanwhile.
struct LocalFile {
    file: std::fs::File,
    version: String,
    content_digest: String,
    sha256: String,
    size: u64,
}

impl LocalFile {
    async fn inspect(path: &Path) -> Result<LocalFile> {
        let path = path.to_path_buf();
        blocking(move || {
            let mut file = std::fs::File::open(&path).map_err(io(&path))?;
            let db = VulnDb::open(&path)?;
            let held = file.metadata().map_err(io(&path))?;
            let named = std::fs::metadata(&path).map_err(io(&path))?;
            if (held.dev(), held.ino()) != (named.dev(), named.ino()) {
                return Err(DistributeError::Invalid(format!(
                    "{}: replaced while it was being published; publish again",
                    path.display()
                )));
            }
            let (sha256, size) = hash_file(&mut file, &path)?;
            std::io::Seek::rewind(&mut file).map_err(io(&path))?;
            Ok(LocalFile {
                file,
                version: db.meta().version.clone(),
                content_digest: db.meta().content_digest.clone(),
                sha256,
                size,
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_recognised_exactly() {
        assert!(is_version("20240102T030405Z-0123456789ab"));
        assert!(!is_version("20240102T030405Z-0123456789AB"));
        assert!(!is_version("../../etc/passwd"));
        assert!(!is_version("20240102T030405Z-0123456789a"));
        assert!(!is_version(LATEST));
    }

    #[test]
    fn announcements_naming_paths_or_odd_digests_are_refused() {
        let good = Announcement {
            format: ANNOUNCEMENT_FORMAT,
            version: "20240102T030405Z-0123456789ab".into(),
            sha256: format!("sha256:{}", "ab".repeat(32)),
            size: 1,
            content_digest: String::new(),
            published_at: String::new(),
        };
        assert!(good.clone().check().is_ok());
        let traversal = Announcement {
            version: "../x".into(),
            ..good.clone()
        };
        assert!(traversal.check().is_err());
        let short = Announcement {
            sha256: "sha256:abc".into(),
            ..good.clone()
        };
        assert!(short.check().is_err());
        let future = Announcement { format: 2, ..good };
        assert!(future.check().is_err());
    }

    #[test]
    fn object_store_digest_matches_the_store_format() {
        // sha256("") in the store's base64url form, as nats-server tools print it.
        let empty = format!("sha256:{}", hex::encode(Sha256::digest(b"")));
        assert_eq!(
            object_store_digest(&empty),
            "SHA-256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }
}
