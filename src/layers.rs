//! The layering rule of [`crate::LAYERS`], checked on the sources: every `crate::X` path (in a
//! `use`, a grouped `use crate::{...}`, or inline) in a layer's files must name the layer
//! itself or one it may use. Comment lines are skipped.

use std::path::{Path, PathBuf};

use crate::LAYERS;

/// The top-level modules named by `crate::` paths in `source`, in order.
fn named_layers(source: &str) -> Vec<String> {
    let ident = |s: &str| s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>();
    let mut found = Vec::new();
    for line in source.lines().filter(|l| !l.trim_start().starts_with("//")) {
        for (at, _) in line.match_indices("crate::") {
            let before = line[..at].chars().last();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue; // `klachtd_crate::`, not ours
            }
            let rest = &line[at + "crate::".len()..];
            match rest.strip_prefix('{') {
                Some(group) => {
                    let group = group.split('}').next().unwrap_or(group);
                    found.extend(group.split(',').map(|item| ident(item.trim())).filter(|name| !name.is_empty()));
                }
                None => found.push(ident(rest)),
            }
        }
    }
    found
}

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            rust_files(&entry.unwrap().path(), out);
        }
    } else if path.is_file() && path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_path_buf());
    }
}

#[test]
fn each_layer_names_only_the_layers_it_may_use() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let layers: Vec<&str> = LAYERS.iter().map(|(layer, _)| *layer).collect();
    let mut forbidden = Vec::new();
    for (layer, allowed) in LAYERS {
        let mut files = Vec::new();
        rust_files(&src.join(layer), &mut files);
        rust_files(&src.join(format!("{layer}.rs")), &mut files);
        assert!(!files.is_empty(), "no sources for layer {layer}");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for name in named_layers(&text) {
                if name != *layer && layers.contains(&name.as_str()) && !allowed.contains(&name.as_str()) {
                    forbidden.push(format!("{}: {layer} may not use crate::{name}", file.strip_prefix(&src).unwrap().display()));
                }
            }
        }
    }
    forbidden.sort();
    forbidden.dedup();
    assert!(forbidden.is_empty(), "paths against the layering of lib.rs:\n{}", forbidden.join("\n"));
}

#[test]
fn the_layers_have_no_cycles() {
    for (i, (layer, allowed)) in LAYERS.iter().enumerate() {
        for name in *allowed {
            assert!(LAYERS[..i].iter().any(|(earlier, _)| earlier == name), "{layer} may use {name}, which is not listed before it");
        }
    }
}

#[test]
fn every_top_level_module_has_a_place_in_the_layers() {
    let lib = include_str!("lib.rs");
    for line in lib.lines().filter_map(|l| l.strip_prefix("pub mod ")) {
        let module = line.trim_end_matches(';');
        assert!(LAYERS.iter().any(|(layer, _)| *layer == module), "{module} is not in LAYERS");
    }
}

#[test]
fn paths_are_found_in_every_form() {
    let text = "use crate::driven::smtp::Mailer;\n// crate::cli in a comment\nuse crate::{store::Store, app::health::Health};\nlet a = crate::domain::text::single_line(x, 3);\nmy_crate::x";
    assert_eq!(named_layers(text), ["driven", "store", "app", "domain"]);
}
