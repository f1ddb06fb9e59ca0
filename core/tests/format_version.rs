//! Canvas format versions: older documents migrate on load, newer ones are
//! refused untouched, and saving writes the current version.

use reelgraph::model::FORMAT_VERSION;
use reelgraph::{Canvas, CanvasDocument, Catalog, StoryStructure};

/// A document as reelgraph wrote it at format version 1: story settings were
/// loose metadata keys, and the demo film used them.
const V1_DOCUMENT: &str = r#"{
  "format": "reelgraph.canvas", "format_version": 1, "id": "lighthouse", "name": "The Last Lighthouse",
  "revision": 12, "created_at": "2026-11-25T20:00:00.000Z", "updated_at": "2026-11-25T20:30:00.000Z",
  "nodes": [
    {"id": "act1", "type": "act", "type_version": 1, "position": {"x": 0, "y": 0}, "properties": {"number": 1, "title": "Arrival"}},
    {"id": "beat1", "type": "beat", "type_version": 1, "position": {"x": 0, "y": 120}, "properties": {"kind": "catalyst", "page": 11}}
  ],
  "edges": [{"id": "e1", "source": {"node": "act1", "port": "act"}, "target": {"node": "beat1", "port": "act"}}],
  "groups": [],
  "viewport": {"x": 0, "y": 0, "zoom": 1},
  "metadata": {"structure": "beat_sheet", "page_count": 96, "studio": "North Pier"}
}"#;

#[test]
fn a_version_1_document_migrates_to_the_typed_story_section() {
    let doc = CanvasDocument::from_json(V1_DOCUMENT).expect("v1 loads");
    assert_eq!(doc.format_version, FORMAT_VERSION);
    assert_eq!(doc.story.structure, Some(StoryStructure::BeatSheet));
    assert_eq!(doc.story.page_count, Some(96));
    assert_eq!(
        doc.metadata.get("studio").and_then(|v| v.as_str()),
        Some("North Pier")
    );
    assert!(doc.metadata.get("structure").is_none(), "moved, not copied");

    let canvas = Canvas::from_document(Catalog::builtin(), doc).expect("canvas");
    // The beat-sheet checks run from the migrated settings: page 11 of 96 is on time for
    // the catalyst (page 12 of 110 scaled), the other beats are missing.
    let report = canvas.validate();
    assert!(
        report
            .diagnostics
            .iter()
            .any(|d| d.code == "structure_beat_missing")
    );
    assert!(
        !report
            .diagnostics
            .iter()
            .any(|d| d.code == "structure_beat_page")
    );

    // Saved back, it is a version 2 document that loads on the fast path.
    let saved = canvas.to_json();
    assert!(saved.contains(r#""format_version":2"#));
    assert!(saved.contains(r#""story":{"structure":"beat_sheet","page_count":96}"#));
    let again = CanvasDocument::from_json(&saved).expect("v2 loads");
    assert_eq!(again, canvas.to_document());
}

#[test]
fn values_version_2_cannot_hold_stay_in_metadata() {
    let text = V1_DOCUMENT
        .replace(
            r#""structure": "beat_sheet""#,
            r#""structure": "hero_journey""#,
        )
        .replace(r#""page_count": 96"#, r#""page_count": 96.5"#);
    let doc = CanvasDocument::from_json(&text).expect("loads");
    assert!(doc.story.is_empty());
    assert_eq!(doc.metadata["structure"], "hero_journey");
    assert_eq!(doc.metadata["page_count"], 96.5);
}

#[test]
fn a_newer_document_is_refused_naming_both_versions() {
    let text = V1_DOCUMENT.replace(r#""format_version": 1"#, r#""format_version": 3"#);
    let err = CanvasDocument::from_json(&text).expect_err("newer");
    assert_eq!(err.code(), "unsupported_format_version");
    assert!(
        err.to_string().contains("format_version 3") && err.to_string().contains("up to 2"),
        "{err}"
    );
}

#[test]
fn unknown_top_level_fields_are_refused_by_name() {
    let text = V1_DOCUMENT.replace(r#""groups": [],"#, r#""groups": [], "layers": [],"#);
    let err = CanvasDocument::from_json(&text).expect_err("unknown field");
    assert_eq!(err.code(), "invalid_json");
    assert!(err.to_string().contains("layers"), "{err}");
}

#[test]
fn a_version_1_document_built_in_code_migrates_too() {
    let mut doc: CanvasDocument = serde_json::from_str(V1_DOCUMENT).expect("plain serde reads v1");
    assert_eq!(doc.format_version, 1);
    doc.metadata.insert("page_count".into(), 90.into());
    let canvas = Canvas::from_document(Catalog::builtin(), doc).expect("loads");
    assert_eq!(canvas.story().structure, Some(StoryStructure::BeatSheet));
    assert_eq!(canvas.story().page_count, Some(90));
    assert!(canvas.metadata().get("structure").is_none());
}
