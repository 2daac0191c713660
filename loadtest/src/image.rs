//! The image inventory benchmark.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Args;

use crate::process::{peak_rss_kib, work_dir};
use serde_json::json;
use sha2::{Digest, Sha256};

#[derive(Debug, Args)]
pub struct ImageArgs {
    /// Compressed size of the smaller image, in MiB; a second image twice as large shows
    /// whether memory grows with image size.
    #[arg(long, default_value_t = 120)]
    pub size_mib: u64,
    /// Layers per image.
    #[arg(long, default_value_t = 8)]
    pub layers: usize,
    /// Runs per measurement; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Where to write the generated images (a temporary directory by default).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Also print the results as JSON.
    #[arg(long)]
    pub json: bool,
}

/// xorshift64*: deterministic filler, so every run measures the same bytes.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

const WORDS: &[&str] = &[
    "lib",
    "usr",
    "share",
    "python",
    "import",
    "return",
    "function",
    "const",
    "static",
    "int",
    "char",
    "void",
    "error",
    "config",
    "module",
    "package",
    "version",
    "license",
    "copyright",
    "the",
    "and",
    "for",
    "with",
    "data",
    "value",
];

/// File contents that compress about like real image content (roughly 3:1): text made of
/// common words, with stretches of random bytes standing in for machine code.
fn filler(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        if rng.next().is_multiple_of(16) {
            for _ in 0..8 {
                out.extend_from_slice(&rng.next().to_le_bytes()[..6]);
            }
        } else {
            out.extend_from_slice(WORDS[(rng.next() % WORDS.len() as u64) as usize].as_bytes());
            out.push(if rng.next().is_multiple_of(9) { b'\n' } else { b' ' });
        }
    }
    out.truncate(len);
    out
}

fn tar_file(builder: &mut tar::Builder<impl Write>, path: &str, data: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(mode);
    h.set_mtime(1_700_000_000);
    h.set_entry_type(tar::EntryType::Regular);
    builder.append_data(&mut h, path, data)?;
    Ok(())
}

fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// Writes an OCI layout whose layers hold package databases, lockfiles, many small package
/// manifests, ELF executables and bulk files; returns the total compressed layer bytes.
fn generate(dir: &Path, target_bytes: u64, layers: usize, seed: u64) -> anyhow::Result<u64> {
    let mut rng = Rng(seed | 1);
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs)?;
    let per_layer = target_bytes / layers as u64;
    let mut layer_descs = Vec::new();
    let mut diff_ids = Vec::new();
    let mut total = 0u64;
    for l in 0..layers {
        let mut raw = Vec::new();
        let mut enc = flate2::write::GzEncoder::new(&mut raw, flate2::Compression::new(6));
        {
            let mut diff_hasher = Sha256::new();
            let mut tee = Tee {
                inner: &mut enc,
                hasher: &mut diff_hasher,
            };
            let mut b = tar::Builder::new(&mut tee);
            if l == 0 {
                tar_file(
                    &mut b,
                    "etc/os-release",
                    b"ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
                    0o644,
                )?;
            }
            let mut status = String::new();
            for i in 0..(400 + l * 50) {
                status.push_str(&format!(
                    "Package: pkg{i}\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.{l}.{i}-1\nDescription: generated\n\n"
                ));
            }
            tar_file(&mut b, "var/lib/dpkg/status", status.as_bytes(), 0o644)?;
            for i in 0..300 {
                let pj = format!("{{\"name\":\"mod{l}x{i}\",\"version\":\"1.0.{i}\",\"main\":\"index.js\"}}");
                tar_file(
                    &mut b,
                    &format!("srv/app{l}/node_modules/mod{l}x{i}/package.json"),
                    pj.as_bytes(),
                    0o644,
                )?;
                let js = filler(&mut rng, 2048);
                tar_file(
                    &mut b,
                    &format!("srv/app{l}/node_modules/mod{l}x{i}/index.js"),
                    &js,
                    0o644,
                )?;
            }
            // Executables (not Go): the engine probes every one of them for Go build info.
            let mut written = 0u64;
            let mut n = 0;
            // Compressed size ≈ uncompressed / 3 for this filler.
            while raw_len_estimate(written) < per_layer {
                let size = 256 * 1024 + (rng.next() % (4 << 20)) as usize;
                let mut data = filler(&mut rng, size);
                let exe = n % 3 == 0;
                if exe {
                    data[..4].copy_from_slice(b"\x7fELF");
                }
                let path = if exe {
                    format!("usr/bin/tool{l}x{n}")
                } else {
                    format!("usr/share/data{l}/blob{n}.bin")
                };
                tar_file(&mut b, &path, &data, if exe { 0o755 } else { 0o644 })?;
                written += size as u64;
                n += 1;
            }
            b.finish()?;
            drop(b);
            diff_ids.push(format!("sha256:{}", hex::encode(diff_hasher.finalize())));
        }
        enc.finish()?;
        let digest = sha256(&raw);
        std::fs::write(blobs.join(&digest[7..]), &raw)?;
        total += raw.len() as u64;
        layer_descs.push(
            json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest, "size": raw.len()}),
        );
    }
    let config = serde_json::to_vec(
        &json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}}),
    )?;
    let config_digest = sha256(&config);
    std::fs::write(blobs.join(&config_digest[7..]), &config)?;
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": layer_descs
    }))?;
    let manifest_digest = sha256(&manifest);
    std::fs::write(blobs.join(&manifest_digest[7..]), &manifest)?;
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest, "size": manifest.len(),
            "platform": {"os": "linux", "architecture": "amd64"}}]}))?,
    )?;
    Ok(total)
}

fn raw_len_estimate(uncompressed: u64) -> u64 {
    uncompressed * 45 / 100
}

struct Tee<'a, W: Write> {
    inner: &'a mut W,
    hasher: &'a mut Sha256,
}
impl<W: Write> Write for Tee<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn layer_paths(layout: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(layout.join("index.json"))?)?;
    let md = index["manifests"][0]["digest"].as_str().context("index digest")?;
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("blobs/sha256").join(&md[7..]))?)?;
    let layers = manifest["layers"].as_array().context("layers")?;
    Ok(layers
        .iter()
        .filter_map(|l| l["digest"].as_str())
        .map(|d| layout.join("blobs/sha256").join(&d[7..]))
        .collect())
}

/// The physical bound: inflate every layer and throw the bytes away, in this process.
fn gunzip_seconds(layout: &Path) -> anyhow::Result<f64> {
    let start = Instant::now();
    for p in layer_paths(layout)? {
        let f = std::io::BufReader::with_capacity(256 << 10, std::fs::File::open(&p)?);
        let mut dec = flate2::bufread::MultiGzDecoder::new(f);
        let mut buf = vec![0u8; 256 << 10];
        while dec.read(&mut buf)? > 0 {}
    }
    Ok(start.elapsed().as_secs_f64())
}

pub fn scan_once(layout: &str) -> anyhow::Result<()> {
    let start = Instant::now();
    let inv = argus_worker::scan_target(
        layout,
        &argus_worker::ScanOptions::default(),
        &argus_worker::artifact::NoProgress,
    )?;
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({"seconds": seconds, "packages": inv.packages.len(), "peak_rss_kib": peak_rss_kib()})
    );
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

pub fn run(args: ImageArgs) -> anyhow::Result<()> {
    let (base, _tmp) = work_dir(args.dir.as_deref())?;
    let me = std::env::current_exe()?;
    let mut results = Vec::new();
    println!(
        "{:>10} {:>7} {:>9} {:>13} {:>13} {:>7} {:>14}",
        "image MiB", "layers", "packages", "gunzip MB/s", "argus MB/s", "ratio", "peak RSS MiB"
    );
    for (i, factor) in [1u64, 2].into_iter().enumerate() {
        let dir = base.join(format!("image{i}"));
        let _ = std::fs::remove_dir_all(&dir);
        // Same layers and packages, twice the bulk: peak memory must not follow the size.
        let compressed = generate(&dir, (args.size_mib * factor) << 20, args.layers, 42)?;
        let mb = compressed as f64 / 1e6;
        let mut gz = Vec::new();
        let mut scans = Vec::new();
        let mut rss = 0;
        let mut packages = 0;
        for _ in 0..args.runs {
            gz.push(gunzip_seconds(&dir)?);
            let out = Command::new(&me).arg("scan-once").arg(&dir).output()?;
            if !out.status.success() {
                bail!("scan failed: {}", String::from_utf8_lossy(&out.stderr));
            }
            let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
            scans.push(v["seconds"].as_f64().unwrap_or(f64::NAN));
            rss = rss.max(v["peak_rss_kib"].as_u64().unwrap_or(0));
            packages = v["packages"].as_u64().unwrap_or(0);
        }
        let gz_rate = mb / median(gz);
        let scan_rate = mb / median(scans);
        println!(
            "{:>10.1} {:>7} {:>9} {:>13.1} {:>13.1} {:>6.0}% {:>14.1}",
            compressed as f64 / (1 << 20) as f64,
            args.layers,
            packages,
            gz_rate,
            scan_rate,
            100.0 * scan_rate / gz_rate,
            rss as f64 / 1024.0
        );
        results.push(json!({
            "compressed_bytes": compressed, "layers": args.layers, "packages": packages,
            "gunzip_mb_per_s": gz_rate, "argus_mb_per_s": scan_rate, "ratio": scan_rate / gz_rate,
            "peak_rss_kib": rss,
        }));
        std::fs::remove_dir_all(&dir).ok();
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    }
    Ok(())
}
