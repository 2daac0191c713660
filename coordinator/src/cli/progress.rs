//! A progress bar on stderr, shown only when stderr is a terminal.

use std::io::IsTerminal;

use argus_worker::artifact::Progress;
use indicatif::{ProgressBar, ProgressStyle};

pub struct Bar(Option<ProgressBar>);

impl Bar {
    pub fn new() -> Self {
        if !std::io::stderr().is_terminal() {
            return Bar(None);
        }
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg:20} {bytes}/{total_bytes} {bytes_per_sec} {wide_bar}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Bar(Some(bar))
    }

    pub fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

impl Progress for Bar {
    fn set_total(&self, bytes: u64) {
        if let Some(b) = &self.0 {
            b.set_length(bytes);
        }
    }
    fn advance(&self, bytes: u64) {
        if let Some(b) = &self.0 {
            b.inc(bytes);
        }
    }
    fn message(&self, msg: &str) {
        if let Some(b) = &self.0 {
            b.set_message(msg.to_string());
        }
    }
}
