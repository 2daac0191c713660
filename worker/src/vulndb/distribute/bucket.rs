//! One object-store bucket as distribution uses it: objects read through our own consumer,
//! written so that replaced chunks are purged, and versions retained or deleted.

use std::path::{Path, PathBuf};

use async_nats::jetstream::consumer::push::OrderedConfig;
use async_nats::jetstream::object_store::{self, InfoErrorKind, ObjectInfo, ObjectMetadata, ObjectStore};
use async_nats::jetstream::{self, context::GetStreamErrorKind, stream};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tracing::info;

use super::{
    blocking, io, is_version, nats, verify_db, Announcement, DistributeError, Result, FILE_SUFFIX, LATEST, STALL,
};

/// One object-store bucket with the stream behind it (for reading chunks and purging them).
pub(super) struct Bucket {
    pub(super) name: String,
    stream: stream::Stream,
    pub(super) store: ObjectStore,
}

impl Bucket {
    /// `None` when the bucket does not exist.
    pub(super) async fn open(js: &jetstream::Context, name: &str) -> Result<Option<Bucket>> {
        let stream = match js.get_stream(format!("OBJ_{name}")).await {
            Ok(s) => s,
            Err(e) => {
                if let GetStreamErrorKind::JetStream(j) = e.kind() {
                    if j.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND {
                        return Ok(None);
                    }
                }
                return Err(nats(format!("bucket {name}"))(e));
            }
        };
        let store = js
            .get_object_store(name)
            .await
            .map_err(nats(format!("bucket {name}")))?;
        Ok(Some(Bucket {
            name: name.to_string(),
            stream,
            store,
        }))
    }

    pub(super) async fn open_or_create(js: &jetstream::Context, name: &str) -> Result<Bucket> {
        if let Some(b) = Bucket::open(js, name).await? {
            return Ok(b);
        }
        js.create_object_store(object_store::Config {
            bucket: name.to_string(),
            description: Some("argus vulnerability databases".into()),
            ..Default::default()
        })
        .await
        .map_err(nats(format!("creating bucket {name}")))?;
        Bucket::open(js, name)
            .await?
            .ok_or_else(|| DistributeError::Invalid(format!("bucket {name} vanished after it was created")))
    }

    /// The object's current metadata; `None` when absent or deleted.
    pub(super) async fn info(&self, object: &str) -> Result<Option<ObjectInfo>> {
        match self.store.info(object).await {
            Ok(i) if i.deleted => Ok(None),
            Ok(i) => Ok(Some(i)),
            Err(e) if e.kind() == InfoErrorKind::NotFound => Ok(None),
            Err(e) => Err(nats(format!("{}/{object}", self.name))(e)),
        }
    }

    pub(super) async fn announcement(&self) -> Result<Option<(ObjectInfo, Announcement)>> {
        let Some(info) = self.info(LATEST).await? else {
            return Ok(None);
        };
        let ann = self.read_announcement(&info).await?;
        Ok(Some((info, ann)))
    }

    pub(super) async fn read_announcement(&self, info: &ObjectInfo) -> Result<Announcement> {
        // An announcement is a few hundred bytes; anything large is not one.
        if info.size > 64 * 1024 {
            return Err(DistributeError::Invalid(format!("{LATEST}: {} bytes", info.size)));
        }
        let mut buf = Vec::new();
        self.read_into(info, &mut buf, Path::new(LATEST)).await?;
        let ann: Announcement = serde_json::from_slice(&buf)
            .map_err(|e| DistributeError::Invalid(format!("{}/{LATEST}: {e}", self.name)))?;
        ann.check()
    }

    /// The version object the announcement names.
    pub(super) async fn object(&self, ann: &Announcement) -> Result<ObjectInfo> {
        self.info(&ann.version).await?.ok_or_else(|| DistributeError::Missing {
            bucket: self.name.clone(),
            version: ann.version.clone(),
        })
    }

    /// Streams the object's chunks into `out`; returns the size and `sha256:<hex>` received.
    async fn read_into(
        &self,
        info: &ObjectInfo,
        out: &mut (impl AsyncWrite + Unpin),
        path: &Path,
    ) -> Result<(u64, String)> {
        let what = format!("{}/{}", self.name, info.name);
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        if info.chunks > 0 {
            // Reading through our own consumer rather than the object store's reader: that one
            // panics when its consumer cannot be created, which a NATS restart mid-read causes.
            let consumer = self
                .stream
                .create_consumer(OrderedConfig {
                    deliver_subject: format!("_INBOX.argus-vulndb.{}", uuid::Uuid::new_v4().simple()),
                    filter_subject: format!("$O.{}.C.{}", self.name, info.nuid),
                    description: Some(format!("argus download of {}", info.name)),
                    ..Default::default()
                })
                .await
                .map_err(nats(what.clone()))?;
            let mut messages = consumer.messages().await.map_err(nats(what.clone()))?;
            let mut chunks = 0usize;
            while chunks < info.chunks {
                let message = match tokio::time::timeout(STALL, messages.next()).await {
                    Err(_) => return Err(nats(what.clone())(format!("no data for {STALL:?}"))),
                    Ok(None) => return Err(nats(what.clone())("stream ended early")),
                    Ok(Some(Err(e))) => return Err(nats(what.clone())(e)),
                    Ok(Some(Ok(m))) => m,
                };
                hasher.update(&message.payload);
                size += message.payload.len() as u64;
                out.write_all(&message.payload).await.map_err(io(path))?;
                chunks += 1;
            }
        }
        if size != info.size as u64 {
            return Err(nats(what)(format!("received {size} bytes of {}", info.size)));
        }
        Ok((size, format!("sha256:{}", hex::encode(hasher.finalize()))))
    }

    /// Downloads `object` into `<dir>/<version>.vdb` through a temporary file that becomes
    /// visible only once synced and verified.
    pub(super) async fn download(&self, ann: &Announcement, object: &ObjectInfo, dir: &Path) -> Result<PathBuf> {
        let refuse = |reason: String| DistributeError::Refused {
            version: ann.version.clone(),
            reason,
        };
        if object.size as u64 != ann.size {
            return Err(refuse(format!(
                "the object holds {} bytes, {LATEST} announces {}",
                object.size, ann.size
            )));
        }
        tokio::fs::create_dir_all(dir).await.map_err(io(dir))?;
        let tmp = TempPath(dir.join(format!(".{}.download-{}", ann.version, uuid::Uuid::new_v4().simple())));
        let mut file = tokio::fs::File::create(&tmp.0).await.map_err(io(&tmp.0))?;
        let (_, sha256) = self.read_into(object, &mut file, &tmp.0).await?;
        if sha256 != ann.sha256 {
            return Err(refuse(format!(
                "downloaded {sha256}, {LATEST} announces {}",
                ann.sha256
            )));
        }
        // Durable before visible: data synced, then renamed, then the directory synced, so a
        // crash leaves no file under the final name that is not the complete database.
        file.flush().await.map_err(io(&tmp.0))?;
        file.sync_all().await.map_err(io(&tmp.0))?;
        drop(file);
        verify_db(&tmp.0, &ann.version).await?;
        let dest = dir.join(format!("{}{FILE_SUFFIX}", ann.version));
        tokio::fs::rename(&tmp.0, &dest).await.map_err(io(&dest))?;
        // Dropping `tmp` now removes nothing: the name was renamed away and is unique.
        drop(tmp);
        let d = dir.to_path_buf();
        blocking(move || std::fs::File::open(&d).and_then(|f| f.sync_all()).map_err(io(&d))).await?;
        info!(bucket = %self.name, version = %ann.version, size = ann.size, "vulnerability database downloaded");
        Ok(dest)
    }

    /// Stores an object under `name`, replacing what was there.
    pub(super) async fn put(
        &self,
        name: &str,
        description: Option<String>,
        data: &mut (impl AsyncRead + Unpin),
    ) -> Result<ObjectInfo> {
        let previous = self.info(name).await?;
        let meta = ObjectMetadata {
            name: name.to_string(),
            description,
            chunk_size: None,
        };
        let stored = self
            .store
            .put(meta, data)
            .await
            .map_err(nats(format!("{}/{name}", self.name)))?;
        // async-nats 0.38 looks the previous object up under a doubly encoded name and so never
        // purges its chunks; without this a republished name would keep its old bytes forever.
        if let Some(prev) = previous.filter(|p| p.nuid != stored.nuid) {
            self.stream
                .purge()
                .filter(format!("$O.{}.C.{}", self.name, prev.nuid))
                .await
                .map_err(nats(format!("purging old chunks of {}/{name}", self.name)))?;
        }
        Ok(stored)
    }

    /// Deletes versions older than `latest` beyond the newest `keep_old` of them.
    pub(super) async fn retain(&self, latest: &str, keep_old: usize) -> Result<Vec<String>> {
        let what = format!("listing {}", self.name);
        let mut older = Vec::new();
        let listing = async {
            let mut list = self.store.list().await.map_err(nats(what.clone()))?;
            while let Some(item) = list.next().await {
                let info = item.map_err(nats(what.clone()))?;
                if is_version(&info.name) && info.name.as_str() < latest {
                    older.push(info.name);
                }
            }
            Ok::<(), DistributeError>(())
        };
        tokio::time::timeout(STALL, listing)
            .await
            .map_err(|_| nats(what.clone())(format!("no answer in {STALL:?}")))??;
        older.sort_unstable_by(|a, b| b.cmp(a));
        older.dedup();
        let doomed = older.split_off(keep_old.min(older.len()));
        for version in &doomed {
            self.store
                .delete(version)
                .await
                .map_err(nats(format!("deleting {}/{version}", self.name)))?;
            info!(bucket = %self.name, version = %version, "old vulnerability database deleted");
        }
        Ok(doomed)
    }
}

/// A file removed when dropped: an interrupted or refused download leaves nothing behind.
struct TempPath(PathBuf);

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
