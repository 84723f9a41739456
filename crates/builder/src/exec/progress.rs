//! Build output as BuildKit's plain progress prints it (what `docker compose build` shows with
//! `--progress=plain`): each step a numbered vertex (`#5 [2/4] RUN make`), its output lines with
//! the seconds since it started (`#5 0.215 hello`), then `#5 CACHED`, `#5 DONE 0.3s` or
//! `#5 ERROR: ...`, and a blank line.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Where the lines go.
pub type Sink<'s> = dyn Fn(&str) + Send + Sync + 's;

/// Numbers the vertices of one build and prints them.
pub struct Progress<'a> {
    sink: &'a Sink<'a>,
    next: AtomicUsize,
}

/// One step being reported.
pub struct Vertex<'a> {
    sink: &'a Sink<'a>,
    number: usize,
    started: Instant,
}

impl<'a> Progress<'a> {
    /// A build's progress, printed through `sink`.
    pub fn new(sink: &'a Sink<'a>) -> Self {
        Self { sink, next: AtomicUsize::new(1) }
    }

    /// Starts the vertex `name` (`[2/4] RUN make`, `exporting to image`).
    pub fn vertex(&self, name: &str) -> Vertex<'a> {
        let number = self.next.fetch_add(1, Ordering::SeqCst);
        (self.sink)(&format!("#{number} {name}"));
        Vertex { sink: self.sink, number, started: Instant::now() }
    }
}

impl Vertex<'_> {
    /// A line of the step's output, stamped with the seconds since the step started.
    pub fn output(&self, line: &str) {
        (self.sink)(&format!("#{} {:.3} {line}", self.number, self.started.elapsed().as_secs_f64()));
    }

    /// A status line of the step (`writing image sha256:... done`).
    pub fn status(&self, line: &str) {
        (self.sink)(&format!("#{} {line}", self.number));
    }

    /// The step's result was found in the cache.
    pub fn cached(self) {
        (self.sink)(&format!("#{} CACHED", self.number));
        (self.sink)("");
    }

    /// The step is done.
    pub fn done(self) {
        (self.sink)(&format!("#{} DONE {:.1}s", self.number, self.started.elapsed().as_secs_f64()));
        (self.sink)("");
    }

    /// The step failed with `message`.
    pub fn error(self, message: &str) {
        (self.sink)(&format!("#{} ERROR: {message}", self.number));
        (self.sink)("");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn vertices_are_numbered_and_closed_as_buildkit_prints_them() {
        let lines = Mutex::new(Vec::new());
        let sink = |l: &str| lines.lock().unwrap().push(l.to_string());
        let progress = Progress::new(&sink);
        progress.vertex("[1/2] FROM docker.io/library/busybox:latest").cached();
        let run = progress.vertex("[2/2] RUN echo hi");
        run.output("hi");
        run.done();
        let lines = lines.into_inner().unwrap();
        assert_eq!(lines[..4], ["#1 [1/2] FROM docker.io/library/busybox:latest", "#1 CACHED", "", "#2 [2/2] RUN echo hi"]);
        assert!(lines[4].starts_with("#2 0.0") && lines[4].ends_with(" hi"), "{}", lines[4]);
        assert!(lines[5].starts_with("#2 DONE 0."), "{}", lines[5]);
    }
}
