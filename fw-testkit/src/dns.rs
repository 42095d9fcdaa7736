//! The workspace's one hickory-server request handler, for its mock DNS servers: conformance's
//! world resolver and fw-cli's resolver tests.
//!
//! What a name answers is the caller's ([`Answers`]: a zone of scripted names); the handler does
//! the DNS side of it: reads the query, logs it ([`QueryLog`]), waits the answer's delay, and
//! sends the records (the first owner as asked, its case kept, for resolvers that randomise
//! it), or a response code, as an authoritative server that also offers recursion. Where and
//! how the server listens (a namespace, loopback) stays with the caller.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{
    Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode,
};
use hickory_server::proto::rr::{Name, RData, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::{MessageResponse, MessageResponseBuilder};

/// A name as a zone keys it: lower case, no trailing dot.
pub fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// What a zone answers to one query: the response code, the records in answer order (owner
/// name as a zone key, data) and how long to wait before answering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub code: ResponseCode,
    pub records: Vec<(String, RData)>,
    pub delay: Duration,
}

/// A zone the handler serves: what it answers to `qtype` for `name` (a [`key`]).
pub trait Answers: Send + Sync + Unpin + 'static {
    fn answer(&self, name: &str, qtype: RecordType) -> Answer;
}

impl<A: Answers + ?Sized> Answers for Arc<A> {
    fn answer(&self, name: &str, qtype: RecordType) -> Answer {
        (**self).answer(name, qtype)
    }
}

/// The transport a query came over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// One query the mock received.
#[derive(Debug, Clone)]
pub struct QueryRecord {
    /// The name as a zone key (lower case, no trailing dot).
    pub name: String,
    pub qtype: RecordType,
    pub transport: Transport,
    pub src: SocketAddr,
    pub at: Instant,
}

/// Every query received, in arrival order.
pub type QueryLog = Arc<Mutex<Vec<QueryRecord>>>;

/// The request handler: serves `answers` with records of `ttl` seconds, logging every query.
/// Give it to `hickory_server::Server::new`.
#[derive(Debug)]
pub struct Handler<A> {
    answers: A,
    log: QueryLog,
    ttl: u32,
}

impl<A: Answers> Handler<A> {
    pub fn new(answers: A, log: QueryLog, ttl: u32) -> Self {
        Handler { answers, log, ttl }
    }
}

#[async_trait::async_trait]
impl<A: Answers> RequestHandler for Handler<A> {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let mut meta = Metadata::response_from_request(&request.metadata);
        meta.authoritative = true;
        meta.recursion_available = true;
        let builder = MessageResponseBuilder::from_message_request(request);
        let Ok(info) = request.request_info() else {
            meta.response_code = ResponseCode::FormErr;
            return send(&mut response_handle, builder.build_no_records(meta)).await;
        };
        let qname = info.query.original().name().clone();
        let qtype = info.query.query_type();
        let name = key(&qname.to_ascii());
        if let Ok(mut log) = self.log.lock() {
            log.push(QueryRecord {
                name: name.clone(),
                qtype,
                transport: match request.protocol() {
                    Protocol::Udp => Transport::Udp,
                    _ => Transport::Tcp,
                },
                src: request.src(),
                at: Instant::now(),
            });
        }
        let answer = self.answers.answer(&name, qtype);
        if !answer.delay.is_zero() {
            tokio::time::sleep(answer.delay).await;
        }
        meta.response_code = answer.code;
        let records: Vec<Record> = answer
            .records
            .into_iter()
            .map(|(owner, data)| {
                // The first owner is the name as asked (its case kept, for resolvers that
                // randomise it); the rest are the chain's targets.
                let owner = if owner == name {
                    qname.clone()
                } else {
                    Name::from_ascii(format!("{owner}.")).unwrap_or_else(|_| qname.clone())
                };
                Record::from_rdata(owner, self.ttl, data)
            })
            .collect();
        let response = builder.build(
            meta,
            records.iter(),
            std::iter::empty(),
            std::iter::empty(),
            std::iter::empty(),
        );
        send(&mut response_handle, response).await
    }
}

async fn send<'a, R: ResponseHandler>(
    handle: &mut R,
    response: MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
    >,
) -> ResponseInfo {
    let id = response.metadata().id;
    match handle.send_response(response).await {
        Ok(info) => info,
        Err(e) => {
            tracing::warn!("mock dns: cannot send a response: {e}");
            let mut meta = Metadata::response_from_request(&Metadata::new(
                id,
                MessageType::Response,
                OpCode::Query,
            ));
            meta.response_code = ResponseCode::ServFail;
            ResponseInfo::from(Header {
                metadata: meta,
                counts: HeaderCounts::default(),
            })
        }
    }
}
