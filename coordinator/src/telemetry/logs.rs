//! Log lines carry the trace id of the operation they were written in.
//!
//! The log filter and the span filter are independent (a deployment may log only warnings and
//! still trace every scan), so the log formatter cannot rely on seeing the spans itself. A small
//! unfiltered layer keeps, per thread, the trace id of the span being executed; the formatter
//! appends it.

use std::cell::RefCell;
use std::fmt;

use opentelemetry::trace::{TraceContextExt, TraceId};
use tracing::{Event, Subscriber};
use tracing_opentelemetry::OtelData;
use tracing_subscriber::fmt::format::{Format, Full, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

thread_local! {
    /// Trace ids of the spans entered on this thread, innermost last.
    static ENTERED: RefCell<Vec<Option<TraceId>>> = const { RefCell::new(Vec::new()) };
}

fn trace_id(data: &OtelData) -> Option<TraceId> {
    let parent = data.parent_cx.span();
    if parent.span_context().is_valid() {
        return Some(parent.span_context().trace_id());
    }
    data.builder.trace_id.filter(|t| *t != TraceId::INVALID)
}

/// Tracks the trace id of the innermost entered span, per thread.
pub struct TraceIdLayer;

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for TraceIdLayer {
    fn on_enter(&self, id: &tracing::span::Id, ctx: Context<'_, S>) {
        let own = ctx
            .span(id)
            .and_then(|span| span.extensions().get::<OtelData>().and_then(trace_id));
        ENTERED.with(|e| {
            let mut e = e.borrow_mut();
            // A span that is not traced itself (below the span filter) runs in its parent's trace.
            let inherited = own.or_else(|| e.last().copied().flatten());
            e.push(inherited);
        });
    }

    fn on_exit(&self, _id: &tracing::span::Id, _ctx: Context<'_, S>) {
        ENTERED.with(|e| {
            e.borrow_mut().pop();
        });
    }
}

fn current() -> Option<TraceId> {
    ENTERED.with(|e| e.borrow().last().copied().flatten())
}

/// The standard full format, with ` trace_id=<hex>` at the end of lines written inside a trace.
#[derive(Default)]
pub struct WithTraceId {
    inner: Format<Full>,
}

impl<S, N> FormatEvent<S, N> for WithTraceId
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let Some(trace) = current() else {
            return self.inner.format_event(ctx, writer, event);
        };
        let mut line = String::new();
        self.inner.format_event(ctx, Writer::new(&mut line), event)?;
        writeln!(writer, "{} trace_id={trace}", line.trim_end_matches('\n'))
    }
}
