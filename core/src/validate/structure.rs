//! Story-structure advice, chosen by the canvas's `story.structure`:
//! `three_act`, `seven_point` or `beat_sheet`. Every finding is a warning:
//! structure templates guide writers, they never stop a run.

use std::collections::HashMap;

use petgraph::stable_graph::NodeIndex;
use serde_json::Value;

use super::{Diagnostic, Severity};
use crate::canvas::Canvas;
use crate::model::StoryStructure;

/// Three-act proportions, and how far an act may stray from them.
const THREE_ACT_SHARES: [f64; 3] = [0.25, 0.50, 0.25];
const SHARE_TOLERANCE: f64 = 0.10;

/// Seven-point structure: each point's place in the story, 0..1.
const SEVEN_POINTS: [(&str, f64); 7] = [
    ("hook", 0.0),
    ("plot_turn_1", 0.2),
    ("pinch_1", 0.35),
    ("midpoint", 0.5),
    ("pinch_2", 0.65),
    ("plot_turn_2", 0.8),
    ("resolution", 1.0),
];
const POSITION_TOLERANCE: f64 = 0.10;

/// Beat-sheet (Save the Cat) beats and their page on a 110-page script.
const BEAT_SHEET: [(&str, f64); 15] = [
    ("opening_image", 1.0),
    ("theme_stated", 5.0),
    ("setup", 1.0),
    ("catalyst", 12.0),
    ("debate", 12.0),
    ("break_into_two", 25.0),
    ("b_story", 30.0),
    ("fun_and_games", 30.0),
    ("midpoint", 55.0),
    ("bad_guys_close_in", 55.0),
    ("all_is_lost", 75.0),
    ("dark_night_of_the_soul", 75.0),
    ("break_into_three", 85.0),
    ("finale", 85.0),
    ("final_image", 110.0),
];
const BEAT_SHEET_PAGES: f64 = 110.0;
/// A beat may start this share of the script away from its page.
const PAGE_TOLERANCE: f64 = 0.05;

pub(super) fn check(canvas: &Canvas, out: &mut Vec<Diagnostic>) {
    match canvas.story().structure {
        None => {}
        Some(StoryStructure::ThreeAct) => three_act(canvas, out),
        Some(StoryStructure::SevenPoint) => seven_point(canvas, out),
        Some(StoryStructure::BeatSheet) => beat_sheet(canvas, out),
    }
}

fn warning(code: &str, message: String, hint: &str) -> Diagnostic {
    Diagnostic::new(Severity::Warning, code, message, hint)
}

fn number(canvas: &Canvas, ix: NodeIndex, property: &str) -> Option<f64> {
    canvas
        .entry_at(ix)
        .1
        .properties
        .get(property)
        .and_then(Value::as_f64)
}

fn nodes_of_type<'a>(
    canvas: &'a Canvas,
    type_name: &'a str,
) -> impl Iterator<Item = (&'a str, NodeIndex)> + 'a {
    canvas
        .entries()
        .filter(move |(_, e)| &*e.type_name == type_name)
        .map(|(id, e)| (&**id, e.ix))
}

/// The node feeding `ix` through input `port`, if any.
fn upstream(canvas: &Canvas, ix: NodeIndex, port: &str) -> Option<NodeIndex> {
    canvas
        .incoming(ix)
        .into_iter()
        .find(|(_, _, link)| &*link.target_port == port)
        .map(|(_, src, _)| src)
}

fn three_act(canvas: &Canvas, out: &mut Vec<Diagnostic>) {
    let mut acts: Vec<(&str, NodeIndex)> = nodes_of_type(canvas, "act").collect();
    acts.sort_by(|a, b| {
        let na = number(canvas, a.1, "number").unwrap_or(f64::MAX);
        let nb = number(canvas, b.1, "number").unwrap_or(f64::MAX);
        na.total_cmp(&nb)
    });
    if acts.len() != 3 {
        out.push(warning(
            "structure_act_count",
            format!(
                "a three-act structure has 3 acts; this canvas has {}",
                acts.len()
            ),
            "add or merge acts, or choose another structure",
        ));
        return;
    }
    // Screen time per act: its shots' durations (shot -> scene -> act), or
    // the act's own planned duration when no shot hangs below it.
    let mut from_shots: HashMap<NodeIndex, f64> = HashMap::new();
    for (_, shot) in nodes_of_type(canvas, "shot") {
        let act = upstream(canvas, shot, "scene").and_then(|scene| upstream(canvas, scene, "act"));
        if let (Some(act), Some(d)) = (act, number(canvas, shot, "duration")) {
            *from_shots.entry(act).or_default() += d;
        }
    }
    let durations: Vec<f64> = acts
        .iter()
        .map(|(_, ix)| {
            from_shots
                .get(ix)
                .copied()
                .or_else(|| number(canvas, *ix, "duration"))
                .unwrap_or(0.0)
        })
        .collect();
    let total: f64 = durations.iter().sum();
    if total <= 0.0 {
        out.push(warning(
            "structure_no_durations",
            "the acts have no durations, so their proportions cannot be checked".into(),
            "set shot durations, or each act's planned duration",
        ));
        return;
    }
    for (((id, _), d), expected) in acts.iter().zip(&durations).zip(THREE_ACT_SHARES) {
        let share = d / total;
        if (share - expected).abs() > SHARE_TOLERANCE {
            out.push(
                warning(
                    "structure_proportion",
                    format!(
                        "act `{id}` runs {:.0}% of the story ({d:.1} s of {total:.1} s); a three-act structure puts it near {:.0}%",
                        share * 100.0,
                        expected * 100.0
                    ),
                    "move scenes between acts or adjust shot durations",
                )
                .node(id),
            );
        }
    }
}

/// Beats by kind, with their position in the story (0..1) when it is known.
fn beats(canvas: &Canvas, pages: f64) -> HashMap<String, (String, Option<f64>)> {
    let mut found = HashMap::new();
    for (id, ix) in nodes_of_type(canvas, "beat") {
        let entry = canvas.entry_at(ix).1;
        let Some(kind) = entry.properties.get("kind").and_then(Value::as_str) else {
            continue;
        };
        let position = number(canvas, ix, "page")
            .map(|p| p / pages)
            .or_else(|| number(canvas, ix, "position"));
        found
            .entry(kind.to_owned())
            .or_insert((id.to_owned(), position));
    }
    found
}

fn seven_point(canvas: &Canvas, out: &mut Vec<Diagnostic>) {
    let pages = page_count(canvas);
    let found = beats(canvas, pages);
    for (kind, expected) in SEVEN_POINTS {
        match found.get(kind) {
            None => out.push(warning(
                "structure_beat_missing",
                format!("the seven-point structure has no `{kind}` beat"),
                "add a beat node of that kind",
            )),
            Some((id, Some(pos))) if (pos - expected).abs() > POSITION_TOLERANCE => out.push(
                warning(
                    "structure_beat_position",
                    format!(
                        "beat `{id}` ({kind}) sits at {:.0}% of the story; it belongs near {:.0}%",
                        pos * 100.0,
                        expected * 100.0
                    ),
                    "move the beat, or its page",
                )
                .node(id),
            ),
            Some(_) => {}
        }
    }
}

fn beat_sheet(canvas: &Canvas, out: &mut Vec<Diagnostic>) {
    let pages = page_count(canvas);
    let found = beats(canvas, pages);
    for (kind, page) in BEAT_SHEET {
        let expected = page / BEAT_SHEET_PAGES;
        match found.get(kind) {
            None => out.push(warning(
                "structure_beat_missing",
                format!("the beat sheet has no `{kind}` beat"),
                "add a beat node of that kind",
            )),
            Some((id, Some(pos))) if (pos - expected).abs() > PAGE_TOLERANCE => out.push(
                warning(
                    "structure_beat_page",
                    format!(
                        "beat `{id}` ({kind}) falls on page {:.0} of {pages:.0}; the beat sheet puts it near page {:.0}",
                        pos * pages,
                        expected * pages
                    ),
                    "move the beat to its page, or set story.page_count",
                )
                .node(id),
            ),
            Some(_) => {}
        }
    }
}

fn page_count(canvas: &Canvas) -> f64 {
    canvas
        .story()
        .page_count
        .map_or(BEAT_SHEET_PAGES, f64::from)
}
