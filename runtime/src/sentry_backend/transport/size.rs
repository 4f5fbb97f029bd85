//! What a queued envelope weighs: an estimate of the bytes it holds in memory (about what it
//! serialises to), read off its items without serialising it, so that the queues can be
//! bounded in bytes as well as in count at the cost of a walk over its strings.
//!
//! Counted: every string an event or a transaction carries that can grow with input (message,
//! exceptions and their frames, breadcrumbs, the request, tags, extra, span descriptions and
//! data, `Other` contexts), attachments' buffers; each item, frame, breadcrumb and span also
//! weighs a fixed overhead for its fixed fields. A raw envelope (built by the application from
//! bytes) cannot be read and weighs [`RAW`].

use sentry::protocol::{
    Breadcrumb, Context, Envelope, EnvelopeItem, Event, Map, Request, Span, Stacktrace,
    Transaction, Value,
};

/// The fixed fields of an item (ids, timestamps, platform, SDK, the contexts sentry adds).
const ITEM: usize = 1024;
/// The fixed fields of a frame, a breadcrumb or a span.
const PART: usize = 128;
/// What a raw envelope is taken to weigh.
pub(crate) const RAW: usize = 16 * 1024;

/// The estimated bytes of `envelope`.
pub(crate) fn of(envelope: &Envelope) -> usize {
    let mut items = envelope.items().peekable();
    if items.peek().is_none() {
        // raw (or empty, which is never queued)
        return RAW;
    }
    items.map(item).sum()
}

fn item(item: &EnvelopeItem) -> usize {
    match item {
        EnvelopeItem::Event(event) => ITEM + self::event(event),
        EnvelopeItem::Transaction(transaction) => ITEM + self::transaction(transaction),
        EnvelopeItem::Attachment(attachment) => {
            ITEM + attachment.buffer.len() + attachment.filename.len()
        }
        EnvelopeItem::ItemContainer(_) | EnvelopeItem::Raw => RAW,
        _ => ITEM,
    }
}

fn event(event: &Event<'_>) -> usize {
    let exceptions: usize = event
        .exception
        .values
        .iter()
        .map(|e| {
            PART + e.ty.len()
                + opt(e.value.as_ref())
                + opt(e.module.as_ref())
                + stack(e.stacktrace.as_ref())
                + stack(e.raw_stacktrace.as_ref())
        })
        .sum();
    let threads: usize = event
        .threads
        .values
        .iter()
        .map(|t| PART + opt(t.name.as_ref()) + stack(t.stacktrace.as_ref()))
        .sum();
    opt(event.message.as_ref())
        + event.logentry.as_ref().map_or(0, |l| {
            l.message.len() + l.params.iter().map(value).sum::<usize>()
        })
        + opt(event.transaction.as_ref())
        + opt(event.culprit.as_ref())
        + exceptions
        + threads
        + stack(event.stacktrace.as_ref())
        + event
            .breadcrumbs
            .values
            .iter()
            .map(breadcrumb)
            .sum::<usize>()
        + event.request.as_ref().map_or(0, request)
        + strings(&event.tags)
        + strings(&event.modules)
        + values(&event.extra)
        + contexts(&event.contexts)
        + event.fingerprint.iter().map(|f| f.len()).sum::<usize>()
}

fn transaction(transaction: &Transaction<'_>) -> usize {
    opt(transaction.name.as_ref())
        + transaction.spans.iter().map(span).sum::<usize>()
        + transaction.request.as_ref().map_or(0, request)
        + strings(&transaction.tags)
        + values(&transaction.extra)
        + contexts(&transaction.contexts)
}

fn span(span: &Span) -> usize {
    PART + opt(span.op.as_ref())
        + opt(span.description.as_ref())
        + strings(&span.tags)
        + values(&span.data)
}

fn breadcrumb(breadcrumb: &Breadcrumb) -> usize {
    PART + breadcrumb.ty.len()
        + opt(breadcrumb.category.as_ref())
        + opt(breadcrumb.message.as_ref())
        + values(&breadcrumb.data)
}

fn request(request: &Request) -> usize {
    request.url.as_ref().map_or(0, |url| url.as_str().len())
        + opt(request.method.as_ref())
        + opt(request.data.as_ref())
        + opt(request.query_string.as_ref())
        + opt(request.cookies.as_ref())
        + strings(&request.headers)
        + strings(&request.env)
}

fn stack(stacktrace: Option<&Stacktrace>) -> usize {
    stacktrace.map_or(0, |stacktrace| {
        stacktrace
            .frames
            .iter()
            .map(|frame| {
                PART + opt(frame.function.as_ref())
                    + opt(frame.symbol.as_ref())
                    + opt(frame.module.as_ref())
                    + opt(frame.package.as_ref())
                    + opt(frame.filename.as_ref())
                    + opt(frame.abs_path.as_ref())
                    + opt(frame.context_line.as_ref())
                    + frame.pre_context.iter().map(String::len).sum::<usize>()
                    + frame.post_context.iter().map(String::len).sum::<usize>()
                    + values(&frame.vars)
            })
            .sum()
    })
}

fn contexts(contexts: &Map<String, Context>) -> usize {
    contexts
        .iter()
        .map(|(key, context)| {
            key.len()
                + match context {
                    Context::Other(map) => values(map),
                    Context::Trace(trace) => PART + values(&trace.data),
                    _ => PART,
                }
        })
        .sum()
}

fn opt(text: Option<&String>) -> usize {
    text.map_or(0, String::len)
}

fn strings(map: &Map<String, String>) -> usize {
    map.iter().map(|(k, v)| k.len() + v.len() + 4).sum()
}

fn values(map: &Map<String, Value>) -> usize {
    map.iter().map(|(k, v)| k.len() + 4 + value(v)).sum()
}

fn value(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) => 8,
        Value::String(text) => text.len() + 2,
        Value::Array(items) => 2 + items.iter().map(|v| 1 + self::value(v)).sum::<usize>(),
        Value::Object(map) => {
            2 + map
                .iter()
                .map(|(k, v)| k.len() + 4 + self::value(v))
                .sum::<usize>()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentry::protocol::Request;

    fn serialised(envelope: &Envelope) -> usize {
        let mut bytes = Vec::new();
        envelope.to_writer(&mut bytes).unwrap();
        bytes.len()
    }

    #[test]
    fn the_estimate_follows_what_grows_with_input() {
        let mut small = Envelope::new();
        small.add_item(Transaction {
            name: Some("GET /shops/{id}".into()),
            ..Transaction::default()
        });
        let big_header = "x".repeat(200_000);
        let mut big = Envelope::new();
        big.add_item(Transaction {
            name: Some("GET /shops/{id}".into()),
            request: Some(Request {
                headers: [("x-big".to_owned(), big_header.clone())].into(),
                ..Request::default()
            }),
            spans: (0..50)
                .map(|i| Span {
                    description: Some(format!("SELECT shops {i}")),
                    ..Span::default()
                })
                .collect(),
            ..Transaction::default()
        });
        let (small_estimate, big_estimate) = (of(&small), of(&big));
        assert!(small_estimate >= serialised(&small) / 2, "{small_estimate}");
        assert!(small_estimate <= 4 * 1024, "{small_estimate}");
        let actual = serialised(&big);
        // within a fifth of what it serialises to: the header dominates
        assert!(
            big_estimate * 5 >= actual * 4 && big_estimate * 5 <= actual * 6,
            "estimated {big_estimate}, serialised {actual}"
        );

        let mut event = Envelope::new();
        event.add_item(Event {
            message: Some(big_header),
            ..Event::default()
        });
        assert!(of(&event) > 200_000);
    }
}
