//! The checks BuildKit makes of COPY/ADD's flags when it dispatches them (after expansion):
//! `--chmod` as an octal mode up to 07777, and `--checksum` only for one HTTP(S) ADD source.

use crate::context::AddSourceKind;
use crate::model::{CopyArgs, CopySource};

impl CopyArgs {
    /// The `--chmod` mode, if given (`invalid chmod parameter: 'x'. it should be octal string
    /// and between 0 and 07777` otherwise, BuildKit's words).
    pub fn chmod_mode(&self) -> Result<Option<u32>, String> {
        let Some(text) = &self.chmod else { return Ok(None) };
        match u32::from_str_radix(text, 8) {
            Ok(mode) if mode <= 0o7777 => Ok(Some(mode)),
            _ => Err(format!("invalid chmod parameter: '{text}'. it should be octal string and between 0 and 07777")),
        }
    }

    /// Checks `--checksum`: ADD only, one source, an HTTP(S) URL (BuildKit's words).
    pub fn check_checksum(&self, is_add: bool) -> Result<(), String> {
        if self.checksum.is_none() {
            return Ok(());
        }
        if !is_add {
            return Err("checksum can't be specified for COPY".into());
        }
        let paths: Vec<&String> = self.sources.iter().filter_map(|s| if let CopySource::Path(p) = s { Some(p) } else { None }).collect();
        match paths.as_slice() {
            [one] if AddSourceKind::of(one) == AddSourceKind::Url => Ok(()),
            [_] => Err("checksum can't be specified for non-HTTP(S) sources".into()),
            _ => Err("checksum can't be specified for multiple sources".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{CopyArgs, Dockerfile, InstructionKind};

    fn copy(line: &str) -> CopyArgs {
        let d = Dockerfile::parse(&format!("FROM x\n{line}\n"), "Dockerfile").unwrap();
        match &d.stages[0].instructions[0].kind {
            InstructionKind::Copy(c) | InstructionKind::Add(c) => c.clone(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn chmod_is_octal_up_to_07777() {
        assert_eq!(copy("COPY --chmod=755 a b").chmod_mode(), Ok(Some(0o755)));
        assert_eq!(copy("COPY --chmod=4755 a b").chmod_mode(), Ok(Some(0o4755)));
        assert_eq!(copy("COPY a b").chmod_mode(), Ok(None));
        for bad in ["u+x", "8", "17777"] {
            assert_eq!(copy(&format!("COPY --chmod={bad} a b")).chmod_mode(), Err(format!("invalid chmod parameter: '{bad}'. it should be octal string and between 0 and 07777")));
        }
    }

    #[test]
    fn checksum_only_for_one_url() {
        assert_eq!(copy("ADD --checksum=sha256:aa https://x/y.tgz /").check_checksum(true), Ok(()));
        assert_eq!(copy("ADD --checksum=sha256:aa y.tgz /").check_checksum(true).unwrap_err(), "checksum can't be specified for non-HTTP(S) sources");
        assert_eq!(copy("ADD --checksum=sha256:aa https://x/a https://x/b /").check_checksum(true).unwrap_err(), "checksum can't be specified for multiple sources");
        assert_eq!(copy("ADD https://x/a /").check_checksum(true), Ok(()));
    }
}
