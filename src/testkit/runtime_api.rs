//! A stand-in for the Lambda Runtime API on 127.0.0.1, for running a built
//! function binary as Lambda runs it: it hands out the given events one by
//! one (`GET …/runtime/invocation/next`) and keeps what the function posts
//! back (`POST …/invocation/{id}/response` or `…/error`), byte for byte.
//! When the events run out, the next poll is answered 500, on which the
//! runtime client gives up and the process ends.
//!
//! Only what the runtime client of `lambda_runtime` sends is understood:
//! HTTP/1.1, keep-alive, bodies with `Content-Length` or chunked.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// What the function posted for one invocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Posted {
    /// `POST /2018-06-01/runtime/invocation/{id}/response`: the answer.
    Response(Vec<u8>),
    /// `POST /2018-06-01/runtime/invocation/{id}/error`: the handler failed.
    Error(Vec<u8>),
}

/// A running stand-in.
pub struct RuntimeApi {
    /// What `AWS_LAMBDA_RUNTIME_API` must be set to.
    pub address: SocketAddr,
    posted: mpsc::Receiver<Posted>,
}

impl RuntimeApi {
    /// Starts serving `events` in order.
    pub fn serve(events: Vec<Value>) -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let address = listener.local_addr().expect("its address");
        let (sender, posted) = mpsc::channel();
        thread::spawn(move || {
            let mut events = events.into_iter().enumerate();
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                if !serve_connection(stream, &mut events, &sender) {
                    return;
                }
            }
        });
        RuntimeApi { address, posted }
    }

    /// The next thing the function posted, waiting at most `timeout`.
    pub fn next_posted(&self, timeout: Duration) -> Option<Posted> {
        self.posted.recv_timeout(timeout).ok()
    }
}

/// Serves requests on one connection until it closes; false once the events
/// have run out.
fn serve_connection(
    stream: TcpStream,
    events: &mut impl Iterator<Item = (usize, Value)>,
    sender: &mpsc::Sender<Posted>,
) -> bool {
    let mut writer = stream.try_clone().expect("a second handle");
    let mut reader = BufReader::new(stream);
    loop {
        let Some((method, path, body)) = read_request(&mut reader) else {
            return true;
        };
        let answer = if method == "GET" && path.ends_with("/runtime/invocation/next") {
            match events.next() {
                Some((n, event)) => {
                    let body = event.to_string();
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                         lambda-runtime-aws-request-id: invocation-{n}\r\n\
                         lambda-runtime-deadline-ms: {}\r\n\
                         lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:123456789012:function:local\r\n\
                         content-length: {}\r\n\r\n{body}",
                        chrono::Utc::now().timestamp_millis() + 60_000,
                        body.len()
                    )
                }
                None => {
                    let _ = writer.write_all(
                        b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n",
                    );
                    return false;
                }
            }
        } else if method == "POST" && path.ends_with("/response") {
            let _ = sender.send(Posted::Response(body));
            "HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n".to_owned()
        } else if method == "POST" && path.ends_with("/error") {
            let _ = sender.send(Posted::Error(body));
            "HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n".to_owned()
        } else {
            "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n".to_owned()
        };
        if writer.write_all(answer.as_bytes()).is_err() {
            return true;
        }
    }
}

/// One request: method, path and body; None when the connection ends.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, String, Vec<u8>)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let (mut length, mut chunked) = (0usize, false);
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().ok()?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body).ok()?;
    }
    Some((method, path, body))
}
