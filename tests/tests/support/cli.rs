//! The `argus` command line as clap will parse it, read from its definitions in
//! `coordinator/src/cli/*.rs` rather than from a list kept in the tests: the deploy assets'
//! commands are checked against it (`deploy.rs`, `kubernetes.rs`).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Default)]
pub struct Field {
    /// `--long` name, when the field is a flag.
    long: Option<String>,
    global: bool,
    takes_value: bool,
    flatten: bool,
    subcommand: bool,
    positional: bool,
    ty: String,
}

#[derive(Debug, Default)]
struct Variant {
    name: String,
    /// `Name(Type)`: the arguments are that struct's.
    args: Option<String>,
    fields: Vec<Field>,
}

#[derive(Debug, Default)]
pub struct CliModel {
    structs: BTreeMap<String, Vec<Field>>,
    enums: BTreeMap<String, Vec<Variant>>,
}

fn kebab(ident: &str) -> String {
    let mut out = String::new();
    for (i, ch) in ident.chars().enumerate() {
        if ch.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(ch.to_ascii_lowercase());
        } else if ch == '_' {
            out.push('-');
        } else {
            out.push(ch);
        }
    }
    out
}

fn last_segment(ty: &str) -> String {
    let ty = ty.trim().trim_end_matches(',');
    let inner = ty
        .strip_prefix("Option<")
        .or_else(|| ty.strip_prefix("Vec<"))
        .map(|t| t.trim_end_matches('>'))
        .unwrap_or(ty);
    inner.rsplit("::").next().unwrap().to_string()
}

/// A field declaration `pub name: Type,` with the attributes collected above it.
fn field(line: &str, attrs: &[String]) -> Option<Field> {
    let line = line.trim().strip_prefix("pub ").unwrap_or(line.trim());
    let (name, ty) = line.split_once(": ")?;
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        || name.is_empty()
    {
        return None;
    }
    let ty = ty.trim_end_matches(',').to_string();
    let attr = attrs.join(" ");
    let mut f = Field {
        ty: ty.clone(),
        ..Default::default()
    };
    f.flatten = attr.contains("command(flatten)");
    f.subcommand = attr.contains("command(subcommand)");
    let arg = attrs
        .iter()
        .filter(|a| a.starts_with("#[arg("))
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    let explicit = arg
        .split("long = \"")
        .nth(1)
        .map(|rest| rest.split('"').next().unwrap().to_string());
    let has_long = explicit.is_some()
        || arg
            .trim_start_matches("#[arg(")
            .split([',', ')', ' '])
            .any(|tok| tok.trim() == "long");
    if has_long {
        f.long = Some(explicit.unwrap_or_else(|| kebab(name)));
    }
    f.global = arg.contains("global = true");
    f.takes_value = ty != "bool" && !arg.contains("ArgAction::Count") && !arg.contains("SetTrue");
    f.positional = !has_long && !arg.contains("short") && !f.flatten && !f.subcommand;
    Some(f)
}

pub fn parse_cli(repo: &Path) -> CliModel {
    let mut model = CliModel::default();
    let dir = repo.join("coordinator/src/cli");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for path in files.iter().filter(|p| p.extension().is_some_and(|e| e == "rs")) {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let mut attrs: Vec<String> = Vec::new();
        let mut open_attr: Option<(String, i32)> = None;
        let mut in_struct: Option<String> = None;
        let mut in_enum: Option<String> = None;
        let mut in_variant: Option<Variant> = None;
        for line in text.lines() {
            let t = line.trim();
            if let Some((mut a, depth)) = open_attr.take() {
                a.push(' ');
                a.push_str(t);
                let depth = depth + t.matches('[').count() as i32 - t.matches(']').count() as i32;
                if depth > 0 {
                    open_attr = Some((a, depth));
                } else {
                    attrs.push(a);
                }
                continue;
            }
            if t.starts_with("#[") {
                let depth = t.matches('[').count() as i32 - t.matches(']').count() as i32;
                if depth > 0 {
                    open_attr = Some((t.to_string(), depth));
                } else {
                    attrs.push(t.to_string());
                }
                continue;
            }
            if t.starts_with("//") || t.is_empty() {
                continue;
            }
            if line == "}" {
                in_struct = None;
                in_enum = None;
                attrs.clear();
                continue;
            }
            if let Some(rest) = line.strip_prefix("pub struct ") {
                if let Some(name) = rest.strip_suffix(" {") {
                    in_struct = Some(name.to_string());
                    model.structs.entry(name.to_string()).or_default();
                }
                attrs.clear();
                continue;
            }
            if let Some(rest) = line.strip_prefix("pub enum ") {
                if let Some(name) = rest.strip_suffix(" {") {
                    in_enum = Some(name.to_string());
                    model.enums.entry(name.to_string()).or_default();
                }
                attrs.clear();
                continue;
            }
            if let Some(s) = &in_struct {
                if let Some(f) = field(line, &attrs) {
                    model.structs.get_mut(s).unwrap().push(f);
                }
                attrs.clear();
                continue;
            }
            if let Some(e) = &in_enum {
                if let Some(v) = in_variant.as_mut() {
                    if line == "    }," || line == "    }" {
                        let v = in_variant.take().unwrap();
                        model.enums.get_mut(e).unwrap().push(v);
                    } else if let Some(f) = field(line, &attrs) {
                        v.fields.push(f);
                    }
                    attrs.clear();
                    continue;
                }
                let is_variant = line.starts_with("    ") && !line.starts_with("     ");
                if is_variant && t.starts_with(|c: char| c.is_ascii_uppercase()) {
                    let name: String = t.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
                    let rest = t[name.len()..].trim();
                    let mut v = Variant {
                        name,
                        ..Default::default()
                    };
                    if let Some(ty) = rest.strip_prefix('(') {
                        v.args = Some(last_segment(ty.trim_end_matches(',').trim_end_matches(')')));
                        model.enums.get_mut(e).unwrap().push(v);
                    } else if rest == "{" {
                        in_variant = Some(v);
                    } else {
                        model.enums.get_mut(e).unwrap().push(v);
                    }
                }
                attrs.clear();
            }
        }
    }
    model
}

impl CliModel {
    /// The fields of a struct, its flattened structs' included.
    fn fields_of<'a>(&'a self, fields: &'a [Field], out: &mut Vec<&'a Field>) {
        for f in fields {
            if f.flatten {
                let ty = last_segment(&f.ty);
                let inner = self
                    .structs
                    .get(&ty)
                    .unwrap_or_else(|| panic!("flattened {ty} not found"));
                self.fields_of(inner, out);
            } else {
                out.push(f);
            }
        }
    }

    /// Checks `argus <args>` the way clap would parse it: subcommands by name at their level,
    /// flags defined at the current level or global at an enclosing one.
    pub fn check(&self, args: &[String]) -> Result<(), String> {
        let mut level: Vec<&Field> = Vec::new();
        self.fields_of(&self.structs["Cli"], &mut level);
        let mut globals: Vec<&Field> = Vec::new();
        let mut i = 0;
        while i < args.len() {
            let a = &args[i];
            globals.extend(level.iter().filter(|f| f.global));
            if let Some(flag) = a.strip_prefix("--") {
                let (name, inline) = match flag.split_once('=') {
                    Some((n, _)) => (n, true),
                    None => (flag, false),
                };
                let f = level
                    .iter()
                    .chain(globals.iter())
                    .find(|f| f.long.as_deref() == Some(name))
                    .ok_or_else(|| format!("`--{name}` is not a flag of `{}`", args[..i].join(" ")))?;
                if f.takes_value && !inline {
                    if i + 1 >= args.len() {
                        return Err(format!("`--{name}` needs a value"));
                    }
                    i += 1;
                }
            } else if let Some(sub) = level.iter().find(|f| f.subcommand) {
                let e = last_segment(&sub.ty);
                let variants = self
                    .enums
                    .get(&e)
                    .ok_or_else(|| format!("subcommand enum {e} not found"))?;
                let v = variants
                    .iter()
                    .find(|v| kebab(&v.name) == *a)
                    .ok_or_else(|| format!("`{a}` is not a subcommand of `{}`", args[..i].join(" ")))?;
                let mut next = Vec::new();
                match &v.args {
                    Some(s) => self.fields_of(
                        self.structs
                            .get(s)
                            .ok_or_else(|| format!("arguments struct {s} not found"))?,
                        &mut next,
                    ),
                    None => self.fields_of(&v.fields, &mut next),
                }
                level = next;
            } else if !level.iter().any(|f| f.positional) {
                return Err(format!("`{a}`: `{}` takes no positional argument", args[..i].join(" ")));
            }
            i += 1;
        }
        if level.iter().any(|f| f.subcommand) {
            return Err(format!("`{}` needs a subcommand", args.join(" ")));
        }
        Ok(())
    }
}

/// The text of every file under `coordinator/src/cli`, to look up which environment variables
/// some flag reads (`env = "ARGUS_..."`).
pub fn sources(repo: &Path) -> String {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo.join("coordinator/src/cli"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect()
}
