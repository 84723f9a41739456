//! Build output as BuildKit's plain progress prints it (what `docker compose build` shows with
//! `--progress=plain`): each step a numbered vertex (`#5 [2/4] RUN make`), its output lines with
//! the seconds since it started (`#5 0.215 hello`), then `#5 CACHED`, `#5 DONE 0.3s`,
//! `#5 ERROR: ...` or `#5 CANCELED`, and a blank line. Stages built at the same time interleave
//! their vertices as BuildKit's plain printer does: leaving a vertex that is still running prints
//! `#5 ...` and a blank line, coming back to it prints its name again, so every block of lines
//! reads as one step's.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// Where the lines go.
pub type Sink<'s> = dyn Fn(&str) + Send + Sync + 's;

/// Numbers the vertices of one build and prints them.
pub struct Progress<'a> {
    sink: &'a Sink<'a>,
    next: AtomicUsize,
    printer: Mutex<Printer>,
}

/// Which vertex printed last, and the names of those still running.
#[derive(Default)]
struct Printer {
    current: Option<usize>,
    open: BTreeMap<usize, String>,
}

/// One step being reported.
pub struct Vertex<'a> {
    progress: &'a Progress<'a>,
    number: usize,
    started: Instant,
}

impl<'a> Progress<'a> {
    /// A build's progress, printed through `sink`.
    pub fn new(sink: &'a Sink<'a>) -> Self {
        Self { sink, next: AtomicUsize::new(1), printer: Mutex::new(Printer::default()) }
    }

    /// Starts the vertex `name` (`[2/4] RUN make`, `exporting to image`).
    pub fn vertex(&'a self, name: &str) -> Vertex<'a> {
        let number = self.next.fetch_add(1, Ordering::SeqCst);
        let mut printer = self.printer.lock().unwrap_or_else(|e| e.into_inner());
        self.leave_current(&mut printer, number);
        (self.sink)(&format!("#{number} {name}"));
        printer.open.insert(number, name.to_string());
        printer.current = Some(number);
        Vertex { progress: self, number, started: Instant::now() }
    }

    /// Prints `lines` of vertex `number`, closing it after them when `close`.
    fn print(&self, number: usize, lines: &[String], close: bool) {
        let mut printer = self.printer.lock().unwrap_or_else(|e| e.into_inner());
        if printer.current != Some(number) {
            self.leave_current(&mut printer, number);
            if let Some(name) = printer.open.get(&number) {
                (self.sink)(&format!("#{number} {name}"));
            }
            printer.current = Some(number);
        }
        for line in lines {
            (self.sink)(line);
        }
        if close {
            (self.sink)("");
            printer.open.remove(&number);
            printer.current = None;
        }
    }

    /// Before printing vertex `next`: `#N ...` and a blank line if the vertex printed last is
    /// another one still running.
    fn leave_current(&self, printer: &mut Printer, next: usize) {
        if let Some(current) = printer.current.filter(|c| *c != next && printer.open.contains_key(c)) {
            (self.sink)(&format!("#{current} ..."));
            (self.sink)("");
        }
    }
}

impl Vertex<'_> {
    /// A line of the step's output, stamped with the seconds since the step started.
    pub fn output(&self, line: &str) {
        self.progress.print(self.number, &[format!("#{} {:.3} {line}", self.number, self.started.elapsed().as_secs_f64())], false);
    }

    /// A status line of the step (`writing image sha256:... done`).
    pub fn status(&self, line: &str) {
        self.progress.print(self.number, &[format!("#{} {line}", self.number)], false);
    }

    /// The step's result was found in the cache.
    pub fn cached(self) {
        self.progress.print(self.number, &[format!("#{} CACHED", self.number)], true);
    }

    /// The step is done.
    pub fn done(self) {
        self.progress.print(self.number, &[format!("#{} DONE {:.1}s", self.number, self.started.elapsed().as_secs_f64())], true);
    }

    /// The step failed with `message`.
    pub fn error(self, message: &str) {
        self.progress.print(self.number, &[format!("#{} ERROR: {message}", self.number)], true);
    }

    /// The step was stopped because another stage failed.
    pub fn canceled(self) {
        self.progress.print(self.number, &[format!("#{} CANCELED", self.number)], true);
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

    #[test]
    fn interleaved_vertices_are_left_and_named_again() {
        let lines = Mutex::new(Vec::new());
        let sink = |l: &str| lines.lock().unwrap().push(l.to_string());
        let progress = Progress::new(&sink);
        let a = progress.vertex("[a 2/2] RUN one");
        a.status("first");
        let b = progress.vertex("[b 2/2] RUN two");
        b.status("second");
        a.status("third");
        a.canceled();
        b.error("failed");
        let lines = lines.into_inner().unwrap();
        assert_eq!(
            lines,
            [
                "#1 [a 2/2] RUN one", "#1 first", "#1 ...", "",
                "#2 [b 2/2] RUN two", "#2 second", "#2 ...", "",
                "#1 [a 2/2] RUN one", "#1 third", "#1 CANCELED", "",
                "#2 [b 2/2] RUN two", "#2 ERROR: failed", "",
            ]
        );
    }
}
