//! Validation reports as text.

use std::io::{self, Write};

use reelgraph::{Diagnostic, Report};

/// Where a diagnostic points: `node.port`, `node.property`, `node`, or
/// `edge <id>`.
pub fn location(d: &Diagnostic) -> Option<String> {
    match (&d.node, &d.port, &d.property, &d.edge) {
        (Some(node), Some(port), _, _) => Some(format!("{node}.{port}")),
        (Some(node), None, Some(property), _) => Some(format!("{node}.{property}")),
        (Some(node), None, None, _) => Some(node.clone()),
        (None, _, _, Some(edge)) => Some(format!("edge {edge}")),
        _ => None,
    }
}

/// Writes every diagnostic (`error[code] where: message` and its hint), then
/// one line of counts.
pub fn write(out: &mut impl Write, canvas: &str, report: &Report) -> io::Result<()> {
    for d in &report.diagnostics {
        let severity = d.severity.as_str();
        let at = location(d).map(|l| format!(" {l}")).unwrap_or_default();
        writeln!(out, "{severity}[{}]{at}: {}", d.code, d.message)?;
        if !d.hint.is_empty() {
            writeln!(out, "  hint: {}", d.hint)?;
        }
    }
    writeln!(
        out,
        "{canvas}: {}, {}, {}",
        if report.valid { "valid" } else { "invalid" },
        plural(report.errors, "error"),
        plural(report.warnings, "warning"),
    )
}

/// `1 error`, `2 errors`.
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}
