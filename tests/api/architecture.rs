//! The crate's layers depend one way (DESIGN.md: HTTP → services → store,
//! ephemeral, ports): no import cycle between its modules. An import cycle
//! makes every file in it depend on every other, so a change anywhere in it
//! rebuilds, and must be understood with, all of them.
//!
//! The graph is read from the sources, file by file: `use crate::…` and
//! `use super::…` (with `{…}` groups), `crate::a::b` and `super::b` paths in
//! code, and names brought in by `use crate::{a, b}` / `use crate::a;` used
//! as `a::x::y`. A path counts for the longest prefix that is a file module.
//! Unit tests (`#[cfg(test)] mod tests`) and `//` comments do not count.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

/// A file module as its path segments below `src/` (`src/oidc/token/mod.rs`
/// is `oidc/token`); the crate roots are `@lib` and `@main`.
type Module = Vec<String>;
type Graph = BTreeMap<Module, BTreeSet<Module>>;

fn name(m: &Module) -> String {
    m.join("/")
}

/// Every `.rs` file below `root`, by module.
fn read_sources(root: &Path) -> BTreeMap<Module, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<Module, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(root).unwrap().with_extension("");
                let mut parts: Module = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if parts.last().is_some_and(|p| p == "mod") {
                    parts.pop();
                }
                if parts == ["lib"] || parts == ["main"] {
                    parts[0] = format!("@{}", parts[0]);
                }
                out.insert(parts, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Whether `word` is at index `i` of `s`.
fn at(s: &[char], i: usize, word: &str) -> bool {
    (i..).zip(word.chars()).all(|(j, w)| s.get(j) == Some(&w))
}

/// One or more `::name` at `i`: the names and the index after them.
fn segments(s: &[char], mut i: usize) -> Option<(Vec<String>, usize)> {
    let mut segs = Vec::new();
    while at(s, i, "::") {
        let start = i + 2;
        let mut end = start;
        while end < s.len() && is_word(s[end]) {
            end += 1;
        }
        if end == start {
            break;
        }
        segs.push(s[start..end].iter().collect());
        i = end;
    }
    (!segs.is_empty()).then_some((segs, i))
}

/// `crate` or `super` at `i`, with the module the path starts from.
fn root_at(s: &[char], i: usize, module: &Module) -> Option<Module> {
    if at(s, i, "crate") {
        Some(Vec::new())
    } else if at(s, i, "super") {
        Some(module[..module.len().saturating_sub(1)].to_vec())
    } else {
        None
    }
}

/// `use <ws>+` at `i`: the index after the whitespace.
fn use_at(s: &[char], i: usize) -> Option<usize> {
    if !at(s, i, "use") {
        return None;
    }
    let mut j = i + 3;
    while j < s.len() && s[j].is_whitespace() {
        j += 1;
    }
    (j > i + 3).then_some(j)
}

/// Drops the unit tests (`#[cfg(test)] mod tests { … }`) and `//` comments.
fn code_of(source: &str) -> Vec<char> {
    let mut src = source.to_string();
    if let Some(i) = src.find("#[cfg(test)]\nmod tests")
        && let Some(open) = src[i..].find('{').map(|o| i + o)
    {
        let mut depth = 0;
        for (k, c) in src[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        src.replace_range(i..=open + k, "");
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    let mut out = Vec::with_capacity(src.len());
    let chars: Vec<char> = src.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if at(&chars, i, "//") {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// The modules `module` imports (itself excluded).
fn imports(module: &Module, source: &str, files: &BTreeSet<Module>) -> BTreeSet<Module> {
    let s = code_of(source);
    let resolve = |path: &[String]| -> Option<Module> {
        (1..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|p| files.contains(p))
    };
    let mut deps = BTreeSet::new();
    let mut add = |path: &[String]| {
        if let Some(r) = resolve(path)
            && r != *module
        {
            deps.insert(r);
        }
    };

    // Names brought into scope: `use crate::{a, b};` and `use crate::a::b;`.
    let mut aliases: BTreeMap<String, Module> = BTreeMap::new();
    let mut i = 0;
    while i < s.len() {
        let found = use_at(&s, i).and_then(|j| {
            let base = root_at(&s, j, module)?;
            let open = j + 5;
            if !at(&s, open, "::{") {
                return None;
            }
            let semi = (open + 3..s.len()).find(|&k| s[k] == ';')?;
            (semi > open + 3 && s[semi - 1] == '}').then(|| {
                let group: String = s[open + 3..semi - 1].iter().collect();
                (base, group, semi + 1)
            })
        });
        match found {
            Some((base, group, end)) => {
                for item in group.split(',').map(str::trim) {
                    if !item.is_empty() && item.chars().all(is_word) {
                        let mut full = base.clone();
                        full.push(item.to_string());
                        aliases.insert(item.to_string(), full);
                    }
                }
                i = end;
            }
            None => i += 1,
        }
    }
    let mut i = 0;
    while i < s.len() {
        let found = use_at(&s, i).and_then(|j| {
            let base = root_at(&s, j, module)?;
            let (segs, end) = segments(&s, j + 5)?;
            (s.get(end) == Some(&';')).then_some((base, segs, end + 1))
        });
        match found {
            Some((mut base, segs, end)) => {
                let last = segs[segs.len() - 1].clone();
                base.extend(segs);
                aliases.insert(last, base);
                i = end;
            }
            None => i += 1,
        }
    }
    for (alias, full) in &aliases {
        let a: Vec<char> = alias.chars().collect();
        let mut i = 0;
        while i < s.len() {
            let free = i == 0 || !(is_word(s[i - 1]) || s[i - 1] == ':');
            let found = (free && s[i..].starts_with(&a))
                .then(|| segments(&s, i + a.len()))
                .flatten();
            match found {
                Some((segs, end)) => {
                    let mut path = full.clone();
                    path.extend(segs);
                    add(&path);
                    i = end;
                }
                None => i += 1,
            }
        }
    }

    // Paths: `crate::a::b`, `super::b`, with an optional `::{x, y::z}` group.
    let mut i = 0;
    while i < s.len() {
        let boundary = i == 0 || !is_word(s[i - 1]);
        let found = boundary
            .then(|| root_at(&s, i, module))
            .flatten()
            .and_then(|base| segments(&s, i + 5).map(|(segs, end)| (base, segs, end)));
        let Some((mut path, segs, mut end)) = found else {
            i += 1;
            continue;
        };
        path.extend(segs);
        let mut candidates = vec![path.clone()];
        if at(&s, end, "::{")
            && let Some(close) = (end + 3..s.len()).find(|&k| s[k] == '}' || s[k] == ';')
            && s[close] == '}'
        {
            let group: String = s[end + 3..close].iter().collect();
            for item in group.split(',') {
                let item = item.trim();
                let item = item.split(" as ").next().unwrap_or(item);
                let item = item.replace(['{', '}'], "");
                let item = item.trim();
                if !item.is_empty() && item != "self" {
                    let mut c = path.clone();
                    c.extend(item.split("::").map(str::to_string));
                    candidates.push(c);
                }
            }
            end = close + 1;
        }
        for c in &candidates {
            add(c);
        }
        i = end;
    }
    deps
}

fn import_graph(sources: &BTreeMap<Module, String>) -> Graph {
    let files: BTreeSet<Module> = sources.keys().cloned().collect();
    sources
        .iter()
        .map(|(m, src)| (m.clone(), imports(m, src, &files)))
        .collect()
}

/// The strongly connected components with more than one module (Tarjan).
fn cycles(graph: &Graph) -> Vec<Vec<Module>> {
    struct Tarjan<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        on_stack: BTreeSet<&'a Module>,
        found: Vec<Vec<Module>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, v: &'a Module) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.graph.get(v).into_iter().flatten() {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w.clone());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut t = Tarjan {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !t.index.contains_key(v) {
            t.visit(v);
        }
    }
    t.found
}

/// One shortest cycle through the first module of a component.
fn a_cycle(component: &[Module], graph: &Graph) -> Vec<Module> {
    let inside: BTreeSet<&Module> = component.iter().collect();
    let start = &component[0];
    let mut came_from: BTreeMap<&Module, &Module> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for w in graph[v].iter().filter(|w| inside.contains(w)) {
            if w == start {
                let mut path = vec![v.clone()];
                let mut at = v;
                while at != start {
                    at = came_from[at];
                    path.push(at.clone());
                }
                path.reverse();
                path.push(start.clone());
                return path;
            }
            if !came_from.contains_key(w) {
                came_from.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    unreachable!("a strongly connected component has a cycle through each member")
}

fn describe(found: &[Vec<Module>], graph: &Graph) -> String {
    let mut out = format!("{} import cycle(s) between modules:\n", found.len());
    for component in found {
        let members: Vec<String> = component.iter().map(name).collect();
        let cycle: Vec<String> = a_cycle(component, graph).iter().map(name).collect();
        out.push_str(&format!(
            "\n{} modules: {}\n  for example: {}\n  imports inside:\n",
            component.len(),
            members.join(", "),
            cycle.join(" -> ")
        ));
        let inside: BTreeSet<&Module> = component.iter().collect();
        for m in component {
            let to: Vec<String> = graph[m]
                .iter()
                .filter(|w| inside.contains(w))
                .map(name)
                .collect();
            out.push_str(&format!("    {} -> {}\n", name(m), to.join(", ")));
        }
    }
    out
}

#[test]
fn no_import_cycle_between_the_crates_modules() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let sources = read_sources(&src);
    let graph = import_graph(&sources);
    // The reading found the crate and its imports (an empty graph has no cycle).
    let edges: usize = graph.values().map(BTreeSet::len).sum();
    assert!(sources.len() > 20 && edges > sources.len(), "{graph:?}");
    let found = cycles(&graph);
    assert!(found.is_empty(), "{}", describe(&found, &graph));
}

fn synthetic(files: &[(&str, &str)]) -> Graph {
    let sources = files
        .iter()
        .map(|(m, src)| (m.split('/').map(str::to_string).collect(), src.to_string()))
        .collect();
    import_graph(&sources)
}

fn module(m: &str) -> Module {
    m.split('/').map(str::to_string).collect()
}

/// The positive control: a cycle through `super::`, an alias and a plain
/// `use crate::` is found and shown; test-only and commented imports are not
/// edges; without the closing import there is no cycle.
#[test]
fn the_cycle_check_finds_a_cycle() {
    let a = "use crate::store::{self, Thing};\nuse super::b;\n\npub fn f() { b::g(); }\n";
    let b = "use crate::{service};\n\npub fn g() { service::c::h(); }\n";
    let c = "//! Calls back.\nuse crate::service::a::f;\npub fn h() { f() }\n";
    let store = "pub struct Thing;\n// use crate::service::a;\n\n#[cfg(test)]\nmod tests {\n    use crate::service::a;\n}\n";
    let service = "pub mod a;\npub mod b;\npub mod c;\n";
    let files = [
        ("service", service),
        ("service/a", a),
        ("service/b", b),
        ("service/c", c),
        ("store", store),
    ];
    let graph = synthetic(&files);
    assert_eq!(
        graph[&module("service/a")],
        BTreeSet::from([module("service/b"), module("store")])
    );
    assert_eq!(
        graph[&module("service/b")],
        BTreeSet::from([module("service/c")])
    );
    assert!(
        graph[&module("store")].is_empty(),
        "tests and comments are not imports"
    );
    let found = cycles(&graph);
    assert_eq!(
        found,
        vec![vec![
            module("service/a"),
            module("service/b"),
            module("service/c")
        ]]
    );
    let shown = describe(&found, &graph);
    assert!(
        shown.contains("service/a -> service/b -> service/c -> service/a"),
        "{shown}"
    );

    let files = [
        ("service", service),
        ("service/a", a),
        ("service/b", b),
        ("service/c", "pub fn h() {}\n"),
        ("store", store),
    ];
    assert!(cycles(&synthetic(&files)).is_empty());
}
