//! Well-formedness checkers for the three picture formats: a tiny XML
//! reader for SVG and DOT's HTML labels, a DOT tokeniser, and a Mermaid line
//! checker. Shared by the rendering tests and the hostile-input suite.
#![allow(dead_code)]

use std::collections::BTreeMap;

// ---------------------------------------------------------------------------
// A tiny XML well-formedness checker

/// Checks that `doc` is one well-formed XML element (plus optional prolog,
/// comments and white space): tags nest and match, attribute values are
/// quoted and free of `<`, attribute names are unique, every `&` starts a
/// known entity or a character reference, and no character XML forbids
/// appears. Returns the number of elements.
pub fn check_xml(doc: &str) -> Result<usize, String> {
    if let Some(c) = doc.chars().find(|&c| {
        (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{FFFE}' || c == '\u{FFFF}'
    }) {
        return Err(format!("forbidden character U+{:04X}", c as u32));
    }
    let bytes = doc.as_bytes();
    let mut stack: Vec<&str> = Vec::new();
    let mut elements = 0;
    let mut roots = 0;
    let mut i = 0;
    while i < doc.len() {
        let Some(lt) = doc[i..].find('<').map(|p| p + i) else {
            check_text(&doc[i..], !stack.is_empty())?;
            break;
        };
        check_text(&doc[i..lt], !stack.is_empty())?;
        let rest = &doc[lt..];
        if rest.starts_with("<!--") {
            let end = rest.find("-->").ok_or("unterminated comment")?;
            i = lt + end + 3;
            continue;
        }
        if rest.starts_with("<?") {
            let end = rest
                .find("?>")
                .ok_or("unterminated processing instruction")?;
            i = lt + end + 2;
            continue;
        }
        if rest.starts_with("<!") {
            return Err("unexpected markup declaration".into());
        }
        if let Some(close) = rest.strip_prefix("</") {
            let end = close.find('>').ok_or("unterminated end tag")?;
            let name = close[..end].trim_end();
            match stack.pop() {
                Some(open) if open == name => {}
                other => return Err(format!("</{name}> closes {other:?}")),
            }
            i = lt + 2 + end + 1;
            continue;
        }
        // A start tag.
        let mut j = lt + 1;
        let name_start = j;
        while j < doc.len() && is_name_byte(bytes[j]) {
            j += 1;
        }
        let name = &doc[name_start..j];
        if name.is_empty() || bytes[name_start].is_ascii_digit() || bytes[name_start] == b'-' {
            return Err(format!("bad tag name at byte {lt}"));
        }
        let mut attrs: Vec<&str> = Vec::new();
        loop {
            let ws = j;
            while j < doc.len() && bytes[j].is_ascii_whitespace() {
                j += 1;
            }
            if j >= doc.len() {
                return Err(format!("unterminated <{name}>"));
            }
            if doc[j..].starts_with("/>") {
                j += 2;
                if stack.is_empty() {
                    roots += 1;
                }
                break;
            }
            if bytes[j] == b'>' {
                j += 1;
                if stack.is_empty() {
                    roots += 1;
                }
                stack.push(name);
                break;
            }
            if ws == j {
                return Err(format!(
                    "attributes of <{name}> need white space between them"
                ));
            }
            let a = j;
            while j < doc.len() && is_name_byte(bytes[j]) {
                j += 1;
            }
            let attr = &doc[a..j];
            if attr.is_empty() {
                return Err(format!("bad attribute in <{name}> at byte {j}"));
            }
            if attrs.contains(&attr) {
                return Err(format!("duplicate attribute {attr} in <{name}>"));
            }
            attrs.push(attr);
            if bytes.get(j) != Some(&b'=') {
                return Err(format!("attribute {attr} of <{name}> has no value"));
            }
            j += 1;
            let quote = *bytes.get(j).ok_or("unterminated attribute")?;
            if quote != b'"' && quote != b'\'' {
                return Err(format!("attribute {attr} of <{name}> is not quoted"));
            }
            let end = doc[j + 1..]
                .find(quote as char)
                .ok_or("unterminated attribute value")?;
            let value = &doc[j + 1..j + 1 + end];
            if value.contains('<') {
                return Err(format!("`<` in attribute {attr} of <{name}>"));
            }
            check_entities(value)?;
            j += end + 2;
        }
        elements += 1;
        i = j;
    }
    if let Some(open) = stack.pop() {
        return Err(format!("<{open}> is never closed"));
    }
    if roots != 1 {
        return Err(format!("{roots} root elements"));
    }
    Ok(elements)
}

pub fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'-' | b'.')
}

pub fn check_text(text: &str, inside: bool) -> Result<(), String> {
    if !inside && !text.trim().is_empty() {
        return Err(format!("text outside the root element: {text:?}"));
    }
    if text.contains("]]>") {
        return Err("`]]>` in text".into());
    }
    check_entities(text)
}

pub fn check_entities(text: &str) -> Result<(), String> {
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        let after = &rest[amp + 1..];
        let end = after
            .find(';')
            .ok_or_else(|| format!("bare & in {text:?}"))?;
        let name = &after[..end];
        let ok = matches!(name, "amp" | "lt" | "gt" | "quot" | "apos")
            || name
                .strip_prefix("#x")
                .is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()))
            || name
                .strip_prefix('#')
                .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()));
        if !ok {
            return Err(format!("unknown entity &{name}; in {text:?}"));
        }
        rest = &after[end + 1..];
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// A DOT reader: enough of the grammar to check structure and find edges

#[derive(Debug, PartialEq)]
pub enum Tok {
    Id(String),
    Html(String),
    Punct(char),
    Arrow,
}

pub fn dot_tokens(dot: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = dot.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' {
            // DOT unescapes only \" ; the renderer also doubles backslashes.
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("unterminated string".into()),
                    Some('"') => break,
                    Some('\\') if matches!(chars.get(i + 1), Some('"') | Some('\\')) => {
                        s.push(chars[i + 1]);
                        i += 2;
                    }
                    Some('\n') => return Err("raw newline in a quoted string".into()),
                    Some(&ch) => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            i += 1;
            toks.push(Tok::Id(s));
        } else if c == '<' {
            let mut depth = 0;
            let start = i;
            loop {
                match chars.get(i) {
                    None => return Err("unterminated HTML string".into()),
                    Some('<') => depth += 1,
                    Some('>') => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            toks.push(Tok::Html(chars[start + 1..i].iter().collect()));
            i += 1;
        } else if c == '-' && chars.get(i + 1) == Some(&'>') {
            toks.push(Tok::Arrow);
            i += 2;
        } else if "{}[];,=:".contains(c) {
            toks.push(Tok::Punct(c));
            i += 1;
        } else if c.is_alphanumeric() || c == '_' || c == '.' || c == '#' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '.')) {
                i += 1;
            }
            toks.push(Tok::Id(chars[start..i].iter().collect()));
        } else {
            return Err(format!("unexpected character {c:?} in DOT"));
        }
    }
    Ok(toks)
}

/// Checks brackets and HTML labels, and returns the (source, target) node
/// ids of every edge statement.
pub fn check_dot(dot: &str) -> Result<Vec<(String, String)>, String> {
    if !dot.starts_with("digraph ") {
        return Err("not a digraph".into());
    }
    for line in dot.lines() {
        let t = line.trim_end();
        if !(t.ends_with('{') || t.ends_with('}') || t.ends_with(';')) {
            return Err(format!("a statement broke across lines: {line:?}"));
        }
    }
    let toks = dot_tokens(dot)?;
    let mut stack = Vec::new();
    for t in &toks {
        match t {
            Tok::Punct(c @ ('{' | '[')) => stack.push(*c),
            Tok::Punct('}') if stack.pop() != Some('{') => return Err("unbalanced }".into()),
            Tok::Punct(']') if stack.pop() != Some('[') => return Err("unbalanced ]".into()),
            Tok::Html(html) => {
                check_xml(&format!("<label>{html}</label>"))
                    .map_err(|e| format!("HTML label: {e}"))?;
            }
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err("unclosed brackets".into());
    }
    let mut edges = Vec::new();
    for (k, t) in toks.iter().enumerate() {
        if *t != Tok::Arrow {
            continue;
        }
        // Back up over `node(:port(:compass))`.
        let mut s = k - 1;
        while s >= 2 && toks[s - 1] == Tok::Punct(':') {
            s -= 2;
        }
        let (Tok::Id(source), Some(Tok::Id(target))) = (&toks[s], toks.get(k + 1)) else {
            return Err("an edge without node ids".into());
        };
        edges.push((source.clone(), target.clone()));
    }
    Ok(edges)
}

/// The node ids of node statements: an id that starts a statement and is
/// followed by `[`.
pub fn dot_nodes(dot: &str) -> Vec<String> {
    let toks = dot_tokens(dot).expect("DOT tokenises");
    toks.windows(3)
        .filter_map(|w| match (&w[0], &w[1], &w[2]) {
            (Tok::Punct(';' | '{' | '}'), Tok::Id(id), Tok::Punct('['))
                if !["graph", "node", "edge"].contains(&id.as_str()) =>
            {
                Some(id.clone())
            }
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------
// A Mermaid line checker

#[derive(Debug, Default)]
pub struct Mermaid {
    /// Node id to its decoded label.
    pub nodes: BTreeMap<String, String>,
    pub edges: Vec<(String, String, String)>,
    pub subgraphs: usize,
}

/// Every line must be one of the shapes the renderer writes, with quoted
/// text free of `"`, and ids of the form n0, n1, …
pub fn check_mermaid(text: &str) -> Result<Mermaid, String> {
    let mut lines = text.lines();
    if lines.next() != Some("---") {
        return Err("no front matter".into());
    }
    let title = lines.next().ok_or("no title")?;
    let title = title.strip_prefix("title: ").ok_or("no title line")?;
    serde_json::from_str::<String>(title)
        .map_err(|e| format!("title is not a quoted string: {e}"))?;
    if lines.next() != Some("---") || lines.next() != Some("flowchart LR") {
        return Err("no flowchart header".into());
    }
    let mut out = Mermaid::default();
    let mut depth = 0;
    for line in lines {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("subgraph g") {
            let (id, label) = rest.split_once("[\"").ok_or("bad subgraph")?;
            if !id.chars().all(|c| c.is_ascii_digit()) {
                return Err(format!("bad subgraph id in {t:?}"));
            }
            quoted(label.strip_suffix("\"]").ok_or("bad subgraph label")?)?;
            out.subgraphs += 1;
            depth += 1;
        } else if t == "end" {
            depth -= 1;
        } else if t.starts_with("classDef ")
            || t.starts_with("class ")
            || t.starts_with("linkStyle ")
        {
            if t.contains('"') || t.contains('<') {
                return Err(format!("odd style line {t:?}"));
            }
        } else if let Some((from, rest)) = t.split_once(" -->|\"") {
            let (label, to) = rest.split_once("\"| ").ok_or("bad edge")?;
            node_id(from)?;
            node_id(to)?;
            out.edges.push((from.into(), to.into(), quoted(label)?));
        } else if let Some((id, label)) = t.split_once("[\"") {
            node_id(id)?;
            let label = quoted(label.strip_suffix("\"]").ok_or("bad node label")?)?;
            if out.nodes.insert(id.into(), label).is_some() {
                return Err(format!("node {id} defined twice"));
            }
        } else {
            return Err(format!("unexpected line {t:?}"));
        }
    }
    if depth != 0 {
        return Err("unbalanced subgraph/end".into());
    }
    Ok(out)
}

pub fn node_id(id: &str) -> Result<(), String> {
    match id.strip_prefix('n') {
        Some(d) if !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()) => Ok(()),
        _ => Err(format!("bad node id {id:?}")),
    }
}

/// Checks quoted label text and decodes its `#code;` entities and tags.
pub fn quoted(text: &str) -> Result<String, String> {
    if text.contains('"') {
        return Err(format!("raw quote in {text:?}"));
    }
    let plain = text
        .replace("<b>", "")
        .replace("</b>", "")
        .replace("<br/>", "\n")
        .replace("<small>", "")
        .replace("</small>", "");
    if plain.contains('<') || plain.contains('>') {
        return Err(format!("raw markup in {text:?}"));
    }
    let mut decoded = String::new();
    let mut rest = plain.as_str();
    while let Some(hash) = rest.find('#') {
        decoded.push_str(&rest[..hash]);
        let after = &rest[hash + 1..];
        let end = after
            .find(';')
            .ok_or_else(|| format!("bare # in {text:?}"))?;
        let code: u32 = after[..end]
            .parse()
            .map_err(|_| format!("bad entity in {text:?}"))?;
        decoded.push(char::from_u32(code).ok_or("bad code point")?);
        rest = &after[end + 1..];
    }
    decoded.push_str(rest);
    Ok(decoded)
}
