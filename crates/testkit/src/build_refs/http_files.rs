//! [`HttpFiles`]: a tiny HTTP server inside a sandbox serving a directory, for `ADD <url>`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::Context as _;

use crate::Sandbox;

/// The port [`HttpFiles`] listens on (on 127.0.0.1 in the sandbox), fixed so Dockerfiles can name
/// it: `ADD http://127.0.0.1:18080/file.txt /dst/`.
pub const HTTP_FILES_PORT: u16 = 18080;

/// Serves the files of a directory over plain HTTP on 127.0.0.1:[`HTTP_FILES_PORT`] inside a
/// sandbox (`GET /NAME` -> the file `DIR/NAME`, 404 otherwise). Stopped on drop.
pub struct HttpFiles {
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

impl HttpFiles {
    /// Starts serving `dir` inside `sb`.
    pub fn start(sb: &Sandbox, dir: &Path) -> anyhow::Result<HttpFiles> {
        let listener = sb
            .in_net(|| TcpListener::bind(("127.0.0.1", HTTP_FILES_PORT)))?
            .context("binding the file server's port in the sandbox")?;
        let server = Arc::new(
            tiny_http::Server::from_listener(listener, None)
                .map_err(|e| anyhow::anyhow!("starting the file server: {e}"))?,
        );
        let thread = {
            let server = Arc::clone(&server);
            let dir = dir.to_path_buf();
            std::thread::Builder::new()
                .name("xtk-http-files".into())
                .spawn(move || serve(&server, &dir))?
        };
        Ok(HttpFiles {
            server,
            thread: Some(thread),
        })
    }
}

impl Drop for HttpFiles {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(server: &tiny_http::Server, dir: &Path) {
    for request in server.incoming_requests() {
        let name = request
            .url()
            .split('?')
            .next()
            .unwrap_or("")
            .trim_start_matches('/');
        let file: Option<PathBuf> = (!name.is_empty() && !name.split('/').any(|part| part == ".."))
            .then(|| dir.join(name))
            .filter(|path| path.is_file());
        let _ = match file.and_then(|path| std::fs::File::open(path).ok()) {
            Some(file) => request.respond(tiny_http::Response::from_file(file)),
            None => request.respond(tiny_http::Response::empty(404)),
        };
    }
}
