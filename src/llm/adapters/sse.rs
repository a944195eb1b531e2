//! Server-sent events, parsed incrementally from a byte stream: only a partial line is buffered.

use crate::llm::chat::LlmError;

/// One dispatched event: its `event:` name (if any) and its `data:` lines joined by `\n`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

/// An incremental SSE parser.
#[derive(Debug)]
pub(crate) struct SseParser {
    /// Bytes of the line not yet ended.
    buf: Vec<u8>,
    /// How far `buf` has been searched for a line end.
    scanned: usize,
    event: Option<String>,
    data: String,
    has_data: bool,
    max_line: usize,
}

impl SseParser {
    /// A parser that refuses lines longer than `max_line` bytes.
    pub fn new(max_line: usize) -> Self {
        Self {
            buf: Vec::new(),
            scanned: 0,
            event: None,
            data: String::new(),
            has_data: false,
            max_line,
        }
    }

    /// Feeds bytes; complete events are appended to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), LlmError> {
        self.buf.extend_from_slice(chunk);
        let mut start = 0;
        let mut i = self.scanned;
        while let Some(pos) = self.buf[i..].iter().position(|&b| b == b'\n') {
            let end = i + pos;
            let mut line_end = end;
            if line_end > start && self.buf[line_end - 1] == b'\r' {
                line_end -= 1;
            }
            let line = std::str::from_utf8(&self.buf[start..line_end])
                .map_err(|_| LlmError::Malformed("an event is not valid UTF-8".into()))?
                .to_owned();
            self.line(&line, out);
            start = end + 1;
            i = start;
        }
        self.buf.drain(..start);
        self.scanned = self.buf.len();
        // An event's data lines accumulate until a blank line; a provider that never sends one
        // must not grow memory without end.
        if self.buf.len() + self.data.len() > self.max_line {
            return Err(LlmError::Malformed(format!(
                "an event is larger than {} MiB",
                self.max_line / (1024 * 1024)
            )));
        }
        Ok(())
    }

    /// The body ended: a last unterminated line and a pending event are dispatched.
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) -> Result<(), LlmError> {
        if !self.buf.is_empty() {
            let rest = std::mem::take(&mut self.buf);
            let line = std::str::from_utf8(&rest)
                .map_err(|_| LlmError::Malformed("an event is not valid UTF-8".into()))?;
            let line = line.strip_suffix('\r').unwrap_or(line).to_owned();
            self.line(&line, out);
        }
        self.scanned = 0;
        self.dispatch(out);
        Ok(())
    }

    fn line(&mut self, line: &str, out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = Some(value.to_owned()),
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        if self.has_data {
            out.push(SseEvent {
                event: self.event.take(),
                data: std::mem::take(&mut self.data),
            });
        }
        self.event = None;
        self.has_data = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut p = SseParser::new(1024);
        let mut out = Vec::new();
        for c in chunks {
            p.feed(c, &mut out).unwrap();
        }
        p.finish(&mut out).unwrap();
        out
    }

    #[test]
    fn events_split_anywhere_are_parsed() {
        let whole: &[u8] =
            b"event: a\r\ndata: {\"x\":1}\r\n\r\n: comment\n\ndata: one\ndata:two\n\ndata: [DONE]";
        let expect = vec![
            SseEvent {
                event: Some("a".into()),
                data: "{\"x\":1}".into(),
            },
            SseEvent {
                event: None,
                data: "one\ntwo".into(),
            },
            SseEvent {
                event: None,
                data: "[DONE]".into(),
            },
        ];
        assert_eq!(parse(&[whole]), expect);
        for cut in 1..whole.len() {
            assert_eq!(
                parse(&[&whole[..cut], &whole[cut..]]),
                expect,
                "cut at {cut}"
            );
        }
        let bytes: Vec<&[u8]> = whole.chunks(1).collect();
        assert_eq!(parse(&bytes), expect);
    }

    #[test]
    fn events_are_dispatched_as_soon_as_complete() {
        let mut p = SseParser::new(1024);
        let mut out = Vec::new();
        p.feed(b"data: a\n", &mut out).unwrap();
        assert!(out.is_empty());
        p.feed(b"\ndata: b", &mut out).unwrap();
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn long_lines_are_refused() {
        let mut p = SseParser::new(16);
        let mut out = Vec::new();
        assert!(p.feed(b"data: 0123456789", &mut out).is_ok());
        assert!(matches!(
            p.feed(b"0123456789", &mut out),
            Err(LlmError::Malformed(_))
        ));
    }
}

/// Properties over generated streams: the parser's answer does not depend on where the network
/// cut the bytes, and no input makes it panic.
#[cfg(test)]
mod props {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    fn parse(chunks: &[&[u8]]) -> Result<Vec<SseEvent>, String> {
        let mut p = SseParser::new(1 << 16);
        let mut out = Vec::new();
        for c in chunks {
            p.feed(c, &mut out).map_err(|e| e.to_string())?;
        }
        p.finish(&mut out).map_err(|e| e.to_string())?;
        Ok(out)
    }

    proptest! {
        #[test]
        fn the_events_do_not_depend_on_where_the_stream_was_cut(
            events in vec((proptest::option::of("[a-z_]{1,8}"), vec("[^\r\n]{0,30}", 1..3)), 0..6),
            cuts in vec(any::<usize>(), 0..8),
            crlf in any::<bool>(),
            comments in any::<bool>(),
        ) {
            let nl = if crlf { "\r\n" } else { "\n" };
            let mut body = String::new();
            for (name, lines) in &events {
                if comments {
                    body.push_str(&format!(": keep-alive{nl}"));
                }
                if let Some(n) = name {
                    body.push_str(&format!("event: {n}{nl}"));
                }
                for l in lines {
                    body.push_str(&format!("data: {l}{nl}"));
                }
                body.push_str(nl);
            }
            let expected: Vec<SseEvent> = events
                .iter()
                .map(|(name, lines)| SseEvent { event: name.clone(), data: lines.join("\n") })
                .collect();
            let bytes = body.as_bytes();
            prop_assert_eq!(parse(&[bytes]).unwrap(), expected.clone());
            // The same bytes cut at arbitrary places (inside a CRLF and inside a UTF-8
            // character included).
            let mut at: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
            at.sort_unstable();
            let mut pieces = Vec::new();
            let mut from = 0;
            for &cut in &at {
                pieces.push(&bytes[from..cut]);
                from = cut;
            }
            pieces.push(&bytes[from..]);
            prop_assert_eq!(parse(&pieces).unwrap(), expected);
        }

        #[test]
        fn any_bytes_give_events_or_an_error_never_a_panic(
            bytes in vec(any::<u8>(), 0..600),
            cut in any::<usize>(),
        ) {
            let cut = cut % (bytes.len() + 1);
            let _ = parse(&[&bytes[..cut], &bytes[cut..]]);
        }
    }
}
