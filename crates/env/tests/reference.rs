//! Differential tests against the reference Docker Compose v2.40.3 binary: the same templates
//! and env files, hand-picked and generated, must give the same values or the same error
//! messages through `docker-compose config --format json` as through this crate.
//!
//! The binary is `XCOMPOSE_REFERENCE_COMPOSE`, else the usual install locations; without it
//! these tests fail (tests/run.sh installs it).
//! `XCOMPOSE_ENV_FUZZ_ROUNDS=N` runs the generated cases with N seeds instead of one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use xcompose_env::{dotenv, template};

fn reference() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("XCOMPOSE_REFERENCE_COMPOSE").map(PathBuf::from),
        Some(PathBuf::from("/opt/xcompose-ref/lib/python3.11/site-packages/compose/docker-compose")),
        Some(PathBuf::from("/opt/compose-ref/lib/python3.11/site-packages/compose/docker-compose")),
    ];
    let found = candidates.into_iter().flatten().find(|p| p.is_file());
    assert!(found.is_some(), "reference docker-compose not found: run tests/run.sh, or set XCOMPOSE_REFERENCE_COMPOSE");
    found
}

/// A fresh empty directory.
fn scratch(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "xcompose-env-ref-{}-{tag}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `config --format json` in `dir` with an empty environment: the output, or compose's error
/// message (its warning lines left out).
fn config(bin: &Path, dir: &Path) -> Result<Value, String> {
    let out = Command::new(bin).args(["config", "--format", "json"]).current_dir(dir).env_clear().output().unwrap();
    if out.status.success() {
        return Ok(serde_json::from_slice(&out.stdout).unwrap());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.starts_with("time=")).collect();
    Err(lines.join("\n").trim_end().to_string())
}

/// compose prints a literal `$` of the result as `$$`.
fn unescape(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).replace("$$", "$")
}

/// A YAML double-quoted scalar (JSON strings are YAML).
fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// A tiny deterministic generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// The seeds of the generated cases: one, or `XCOMPOSE_ENV_FUZZ_ROUNDS` of them.
fn seeds(first: u64) -> Vec<u64> {
    let rounds: u64 = std::env::var("XCOMPOSE_ENV_FUZZ_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    (0..rounds.max(1)).map(|i| first.wrapping_add(i.wrapping_mul(0x9e37_79b9_7f4a_7c15))).collect()
}

// ---------------------------------------------------------------- interpolation

const DOTENV_VARS: &str = "A=1\nB=\nLONG=some value\n";

fn lookup_vars() -> BTreeMap<String, String> {
    [("A", "1"), ("B", ""), ("LONG", "some value")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

const TEMPLATES: &[&str] = &[
    "", "plain", "$A", "${A}", "$B", "${B}", "$C", "${C}", "$A$B$C.", "é$Aé", "$A-x", "$A_B-x", "$A.x",
    "$$", "$$A", "$$$A", "$${A}", "a$", "$1", "$ x", "$-", "$}", "${A:-d}", "${B:-d}", "${C:-d}", "${A-d}",
    "${B-d}", "${C-d}", "${A:+alt}", "${B:+alt}", "${C:+alt}", "${A+alt}", "${B+alt}", "${C+alt}", "${A:?e}",
    "${A?e}", "${B?e}", "${C:-${A}}", "${C:-${A:-${B}}z}y", "${B-${A}x}", "${A:-x}-${B:-y}", "${C:-a}b}",
    "${C-a}${C-b}}", "${A:-{}}", "${C:-{}}", "${C:-{}x}", "${C:-{x}}", "${A:-$C}", "${C:+$D}", "${ſ:-x}",
    "${C-a:-b}", "${C-myerror?msg}", "${A?bar-baz}", "${C:-$$}", "${LONG}", "x ${LONG:+[$LONG]} y",
    "${C:-a\tb}", "{$A}", "$A}", "}${A}{",
];

const INVALID_TEMPLATES: &[&str] = &[
    "${}", "${", "${A", "${ A}", "${A }", "${A:x}", "${A!}", "x ${1}", "${A-x", "${A:-${}}", "${A:-x}${}",
    "${A:-x\ny}", "${A:-${B}\n}", "${B:?}", "${C?}", "${C?oops}", "${B:?msg ${A}}", "${A:-${C:?bad}}",
];

/// Substitutes `templates` (which must all succeed here) in one compose file and compares.
fn compare_batch(bin: &Path, templates: &[String]) {
    let dir = scratch("tpl");
    std::fs::write(dir.join(".env"), DOTENV_VARS).unwrap();
    let mut yaml = String::from("services:\n  a:\n    image: x\n    environment:\n");
    for (i, t) in templates.iter().enumerate() {
        yaml.push_str(&format!("      V{i:04}: {}\n", yaml_str(t)));
    }
    std::fs::write(dir.join("compose.yaml"), yaml).unwrap();
    let out = config(bin, &dir).unwrap_or_else(|e| panic!("reference failed on the batch: {e}"));
    let env = &out["services"]["a"]["environment"];
    for (i, t) in templates.iter().enumerate() {
        let want = unescape(&env[format!("V{i:04}")]);
        let got = template::substitute(t, &lookup_vars()).unwrap();
        assert_eq!(got, want, "template {t:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Substitutes one template that fails here; compose must fail with the same message.
fn compare_error(bin: &Path, t: &str) {
    let err = template::substitute(t, &lookup_vars()).expect_err(t);
    let dir = scratch("tpl-err");
    std::fs::write(dir.join(".env"), DOTENV_VARS).unwrap();
    std::fs::write(dir.join("compose.yaml"), format!("services:\n  a:\n    image: x\n    environment:\n      V: {}\n", yaml_str(t)))
        .unwrap();
    let want = config(bin, &dir).expect_err(t);
    // compose's message ends the output, whose trailing blanks `config` strips.
    assert_eq!(err.at_path("services.a.environment.V").trim_end(), want, "template {t:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn hand_picked_templates_match_the_reference() {
    let Some(bin) = reference() else { return };
    compare_batch(&bin, &TEMPLATES.iter().map(|t| t.to_string()).collect::<Vec<_>>());
    for t in INVALID_TEMPLATES {
        compare_error(&bin, t);
    }
}

#[test]
fn generated_templates_match_the_reference() {
    let Some(bin) = reference() else { return };
    let pieces = [
        "$", "$", "$", "{", "{", "}", "}", ":", "-", "+", "?", "A", "B", "C", "_", "x", "1", " ", "$$", "${", "${A", "${C", "}",
        "\n", "é", "ſ",
    ];
    for seed in seeds(0x5eed_1234_abcd_9876) {
        generated_templates(&bin, seed, &pieces);
    }
}

fn generated_templates(bin: &Path, seed: u64, pieces: &[&str]) {
    let mut rng = Rng(seed);
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    for _ in 0..600 {
        let len = rng.below(12);
        let t: String = (0..len).map(|_| rng.pick(pieces)).collect();
        match template::substitute(&t, &lookup_vars()) {
            Ok(_) => good.push(t),
            Err(_) => bad.push(t),
        }
    }
    assert!(good.len() > 100 && bad.len() > 100, "{} good, {} bad", good.len(), bad.len());
    compare_batch(bin, &good);
    for t in bad.iter().take(15) {
        compare_error(bin, t);
    }
}

// ---------------------------------------------------------------- env files

/// The project `.env`, which is the lookup of the services' env files.
const PROJECT_ENV: &str = "L=from-project\nVAR_TO_BE_LOADED_FROM_OS_ENV=from-os\nE=\n";

fn project_lookup() -> BTreeMap<String, String> {
    [("L", "from-project"), ("VAR_TO_BE_LOADED_FROM_OS_ENV", "from-os"), ("E", "")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const ENV_FILES: &[&str] = &[
    "A=1\nB=${A}\nC=$L\nD=${NOPE:-d}\nL\nNOPE\n",
    "export A=1\nexport  B = 2 \nexport\tC=3\nexportD=4\nexport=5\n",
    "A: 1\nB:2\nC : \"x y\"\n",
    "A=foo#bar\nB=foo #bar\nC=foo\t#bar\nD=\"x\" #c\nE='x' junk\nF=1\n",
    "K='Let\\'s go'\nL=\"a\\\"b\"\nM=\"a\\\\b\\nc\\$d\"\nN='a\\\\b'\n",
    "A=\"\\0123|\\0|\\01|\\0777|\\0310|\\t|\\x|\\a|\\q|\\c\"\nB=\\0123\\n\n",
    "\u{feff}A=1\r\nB=\"x\"\r\nC='y'\r\nD=z #c\r\nE=\"l1\r\nl2\"\r\n",
    "A[0]=1\nB.c=2\nD-e=3\n456 = ABC\nárvíztűrő=tükör\n",
    "A=1\nFOO",
    "A=1\nexport\nB=2\n",
    "A=\"multi\nline ${L}\"\nB='multi\nline ${L}'\n",
    "E=${E-unset}|${E:-empty}|${E+set}|${E:+nonempty}\n",
    "A=\"1\"B=2\n",
    "# comment\n  # indented\n\nA=$$B\nC=\"\\$L\"\n",
    "A=1\nB=2\nA=3\n",
];

const BAD_ENV_FILES: &[&str] = &[
    "# c\n\nA=1\nB C=2\n",
    "# c\n\nA=1\nB-C@=2\n",
    "A=\"x\ny\nz\nB=2\n",
    "A=${}\n",
    "A=1\nB=${C:?nope}\n",
    "A=1\nexport ",
    "lol$wut",
    "नमस्ते=1\n",
    "KEY='value\\'",
    "A=\"${L:?}${Z?}\"\n",
];

/// Reads every content as a service's `env_file` (all of which must succeed here) and compares.
fn compare_env_batch(bin: &Path, contents: &[String]) {
    let dir = scratch("env");
    std::fs::write(dir.join(".env"), PROJECT_ENV).unwrap();
    let mut yaml = String::from("services:\n");
    for (i, content) in contents.iter().enumerate() {
        std::fs::write(dir.join(format!("f{i:03}.env")), content).unwrap();
        yaml.push_str(&format!("  s{i:03}:\n    image: x\n    env_file: f{i:03}.env\n"));
    }
    std::fs::write(dir.join("compose.yaml"), yaml).unwrap();
    let out = config(bin, &dir).unwrap_or_else(|e| panic!("reference failed on the batch: {e}"));
    for (i, content) in contents.iter().enumerate() {
        let want: BTreeMap<String, String> = match &out["services"][format!("s{i:03}")]["environment"] {
            Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), unescape(v))).collect(),
            _ => BTreeMap::new(),
        };
        let got: BTreeMap<String, String> = dotenv::parse(content, &project_lookup()).unwrap().into_iter().collect();
        assert_eq!(got, want, "env file {content:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Reads one content that fails here; compose must fail with the same message.
fn compare_env_error(bin: &Path, content: &str) {
    let dir = scratch("env-err");
    std::fs::write(dir.join(".env"), PROJECT_ENV).unwrap();
    let file = dir.join("f.env");
    std::fs::write(&file, content).unwrap();
    std::fs::write(dir.join("compose.yaml"), "services:\n  s:\n    image: x\n    env_file: f.env\n").unwrap();
    let err = dotenv::read_file(&file, &project_lookup()).expect_err(content);
    let want = config(bin, &dir).expect_err(content);
    assert_eq!(format!("failed to read {}: {err}", file.display()).trim_end(), want, "env file {content:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn fixture_dir() -> PathBuf {
    std::env::var_os("XCOMPOSE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"))
        .join("compose-go/dotenv/fixtures")
}

#[test]
fn hand_picked_env_files_and_fixtures_match_the_reference() {
    let Some(bin) = reference() else { return };
    let mut contents: Vec<String> = ENV_FILES.iter().map(|c| c.to_string()).collect();
    let mut fixtures: Vec<PathBuf> = std::fs::read_dir(fixture_dir()).unwrap().map(|e| e.unwrap().path()).collect();
    fixtures.sort();
    for path in fixtures {
        let content = std::fs::read_to_string(&path).unwrap();
        if path.file_name().unwrap() == "invalid1.env" {
            compare_env_error(&bin, &content);
        } else {
            contents.push(content);
        }
    }
    compare_env_batch(&bin, &contents);
    for content in BAD_ENV_FILES {
        compare_env_error(&bin, content);
    }
}

#[test]
fn generated_env_files_match_the_reference() {
    let Some(bin) = reference() else { return };
    for seed in seeds(0x0dd_ba11_c0ff_ee00) {
        generated_env_files(&bin, &mut Rng(seed));
    }
}

fn generated_env_files(bin: &Path, rng: &mut Rng) {
    const KEYS: &[&str] = &["A", "b_2", "C.d", "E-f", "g[0]", "export", "é", "L", "E", "NOPE", "", "x y", "a@b"];
    const SEPS: &[&str] = &["=", " = ", ":", ": ", "\n", "=\t"];
    const VALUES: &[&str] = &[
        "", "v", "v w", "v #c", "v#c", "$L", "${L:-d}", "${NOPE-d}", "$$L", "${", "'s q'", "'s\\'q'", "'multi\nline'",
        "\"d q\"", "\"esc \\n \\t \\\\ \\\" \\$L \\0101\"", "\"$L ${E:-e}\"", "\"multi\nline\"", "\"open", "'open", "x'y",
        "\"a\" tail", "é ü", "${E:?}", "${L?x}", "\"\\\"\"", "'\\\\'", "\"\\\\\"", "${A}${B}", "\"${\"",
    ];
    const ENDS: &[&str] = &["\n", "\n", "\r\n", " # note\n", "\n\n", ""];
    const PREFIXES: &[&str] = &["", "", "", "export ", "  ", "# comment\n"];
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    for _ in 0..300 {
        let mut content = String::new();
        for _ in 0..1 + rng.below(4) {
            for part in [PREFIXES, KEYS, SEPS, VALUES, ENDS] {
                content.push_str(rng.pick(part));
            }
        }
        match dotenv::parse(&content, &project_lookup()) {
            Ok(_) => good.push(content),
            Err(_) => bad.push(content),
        }
    }
    assert!(good.len() > 50 && bad.len() > 50, "{} good, {} bad", good.len(), bad.len());
    compare_env_batch(bin, &good);
    for content in bad.iter().take(15) {
        compare_env_error(bin, content);
    }
}
