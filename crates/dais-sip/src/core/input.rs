//! Input side of [`SipCore`]: datagrams, stream chunks, timers.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;

use super::*;

/// RFC 3261 §17.2.3 key, or the RFC 2543 fallback (§17.2.3 last paragraph) when the branch
/// lacks the magic cookie (RFC 4475 §3.2.1, §3.4.1).
fn server_key(req: &Request) -> Option<TxKey> {
    let via = req.headers.top_via().ok()?;
    let method = match req.method {
        Method::Ack => "INVITE".to_owned(),
        ref m => m.as_str().to_owned(),
    };
    let sent_by = format!("{}:{}", via.host, via.port.unwrap_or(5060));
    if via.has_rfc3261_branch() {
        return Some(TxKey {
            branch: via.branch.unwrap_or_default(),
            sent_by,
            method,
        });
    }
    let call_id = req.headers.call_id().ok()?;
    let cseq = req.headers.cseq().ok()?;
    let from_tag = req.headers.from().ok()?.tag.unwrap_or_default();
    Some(TxKey {
        branch: format!("2543:{call_id}:{}:{from_tag}", cseq.seq),
        sent_by,
        method,
    })
}

/// Bare-LF messages (RFC 5118's archive) are turned into CRLF in the head only; the body's
/// octets, which Content-Length counts, are left alone.
fn tolerate_bare_lf(bytes: &[u8]) -> Option<Bytes> {
    if bytes.windows(2).any(|w| w == b"\r\n") {
        return None;
    }
    let (head, body) = match bytes.windows(2).position(|w| w == b"\n\n") {
        Some(p) => (bytes.get(..p)?, bytes.get(p + 2..)?),
        None => (bytes, &[][..]),
    };
    let mut out = Vec::with_capacity(bytes.len() + 64);
    for &b in head {
        if b == b'\n' {
            out.extend_from_slice(b"\r\n");
        } else {
            out.push(b);
        }
    }
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
    Some(Bytes::from(out))
}

/// Rebuild enough of an unparseable request to answer it: the start line is replaced, the
/// Content-Length lines and the body dropped. `None` for responses, ACKs and anything whose
/// transaction headers are unusable (then the datagram is dropped).
fn salvage(bytes: &[u8], limits: &Limits) -> Option<Request> {
    if bytes.starts_with(b"SIP/") {
        return None;
    }
    let head_end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(bytes.len());
    let head = bytes.get(..head_end)?;
    let mut lines = head.split(|&b| b == b'\n');
    let start = lines.next()?;
    if start.starts_with(b"ACK ") {
        return None;
    }
    let mut rebuilt = b"OPTIONS sip:invalid SIP/2.0\r\n".to_vec();
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let name = line.split(|&b| b == b':').next().unwrap_or(b"");
        let name = String::from_utf8_lossy(name).trim().to_ascii_lowercase();
        if name == "content-length" || name == "l" {
            continue;
        }
        rebuilt.extend_from_slice(line);
        rebuilt.extend_from_slice(b"\r\n");
    }
    rebuilt.extend_from_slice(b"\r\n");
    match parse_unvalidated(Bytes::from(rebuilt), limits).ok()? {
        SipMessage::Request(r) if r.headers.top_via().is_ok() => Some(r),
        _ => None,
    }
}

impl SipCore {
    /// A core with this configuration.
    #[must_use]
    pub fn new(cfg: CoreConfig) -> Self {
        Self {
            rng: cfg.seed | 1,
            cfg,
            next_id: 1,
            server_txs: HashMap::new(),
            client_txs: HashMap::new(),
            calls: HashMap::new(),
            dialogs: HashMap::new(),
            pending: HashMap::new(),
            timers: BinaryHeap::new(),
            framers: HashMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Feed bytes received from `from`: one datagram (UDP) or the next chunk of a TCP stream.
    ///
    /// Never fails: faults are answered on the wire (400, 505, ...), dropped, or reported as
    /// [`SipEvent::CloseConnection`].
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        transport: Transport,
        from: SocketAddr,
        bytes: &[u8],
    ) {
        match transport {
            Transport::Udp => {
                let data = tolerate_bare_lf(bytes).unwrap_or_else(|| Bytes::copy_from_slice(bytes));
                match parse_unvalidated(data.clone(), &self.cfg.limits) {
                    Ok(msg) => self.handle_message(now, transport, from, msg),
                    Err(e) => {
                        tracing::debug!(%from, error = %e, "unparseable datagram");
                        if let (Some(status), Some(req)) =
                            (e.status(), salvage(&data, &self.cfg.limits))
                        {
                            self.stateless(transport, from, &req, status, &[]);
                        }
                    }
                }
            }
            Transport::Tcp => {
                let limits = self.cfg.limits;
                let framer = self
                    .framers
                    .entry(from)
                    .or_insert_with(|| StreamFramer::new(limits));
                match framer.push(bytes) {
                    Ok(msgs) => {
                        for m in msgs {
                            self.handle_message(now, transport, from, m);
                        }
                    }
                    Err(reason) => {
                        self.framers.remove(&from);
                        self.events
                            .push_back(SipEvent::CloseConnection { peer: from, reason });
                    }
                }
            }
        }
    }

    /// Forget a closed TCP connection's framing state.
    pub fn connection_closed(&mut self, peer: SocketAddr) {
        self.framers.remove(&peer);
    }

    /// Next datagram or stream write to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// Next event for the owner.
    pub fn poll_event(&mut self) -> Option<SipEvent> {
        self.events.pop_front()
    }

    /// When [`SipCore::handle_timeout`] should next be called (may be early, never late).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((at, _))| *at)
    }

    /// Fire every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, _))) = self.timers.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, r))) = self.timers.pop() else {
                break;
            };
            match r {
                TimerRef::Server(key) => self.server_timer(now, &key),
                TimerRef::Client(b, m) => self.client_timer(now, &(b, m)),
                TimerRef::Session(call) => self.session_timer(now, call),
            }
        }
    }

    fn handle_message(
        &mut self,
        now: Instant,
        transport: Transport,
        from: SocketAddr,
        msg: SipMessage,
    ) {
        match msg {
            SipMessage::Request(req) => self.handle_request(now, transport, from, req),
            SipMessage::Response(resp) => self.handle_response(now, resp),
        }
    }

    fn handle_request(
        &mut self,
        now: Instant,
        transport: Transport,
        from: SocketAddr,
        req: Request,
    ) {
        let checked = SipMessage::Request(req);
        let verdict = checked.validate();
        let SipMessage::Request(req) = checked else {
            return;
        };
        if let Err(e) = verdict {
            if req.method == Method::Ack {
                return;
            }
            // An unknown method outranks the CSeq mismatch it causes (RFC 4475 §3.1.2.18).
            let status =
                if matches!(req.method, Method::Other(_)) && e == PeerError::CSeqMethodMismatch {
                    501
                } else {
                    e.status().unwrap_or(400)
                };
            tracing::debug!(%from, error = %e, status, "rejecting invalid request");
            let allow = [("Allow", ALLOW.to_owned())];
            self.stateless(
                transport,
                from,
                &req,
                status,
                if status == 501 { &allow } else { &[] },
            );
            return;
        }
        let Some(key) = server_key(&req) else {
            return;
        };
        if req.method == Method::Ack {
            self.handle_ack(now, &key, &req);
            return;
        }
        if let Some(tx) = self.server_txs.get(&key) {
            // A retransmission: answer with what we last sent, never bother the TU again.
            if let Some(last) = tx.last_response.clone() {
                let (t, p) = (tx.transport, tx.peer);
                self.send(t, p, last);
            }
            return;
        }
        if !req.uri.is_sip() {
            self.stateless(transport, from, &req, 416, &[]);
            return;
        }
        if req.method != Method::Cancel {
            let unknown: Vec<String> = req
                .headers
                .require()
                .into_iter()
                .chain(req.headers.tokens("Proxy-Require"))
                .filter(|t| !SUPPORTED.split(", ").any(|s| s.eq_ignore_ascii_case(t)))
                .collect();
            if !unknown.is_empty() {
                let u = [("Unsupported", unknown.join(", "))];
                self.stateless(transport, from, &req, 420, &u);
                return;
            }
        }
        if req.method == Method::Cancel {
            self.handle_cancel(now, transport, from, key, req);
            return;
        }
        let to_tag = req.headers.to().ok().and_then(|t| t.tag);
        let tx = ServerTx {
            method: req.method.clone(),
            request: req,
            transport,
            peer: from,
            state: ServerState::Proceeding,
            last_response: None,
            call: None,
            pending: None,
        };
        self.server_txs.insert(key.clone(), tx);
        match to_tag {
            Some(tag) => self.in_dialog_request(now, key, &tag),
            None => self.out_of_dialog_request(now, key),
        }
    }

    fn request_of(&self, key: &TxKey) -> Option<&Request> {
        self.server_txs.get(key).map(|t| &t.request)
    }

    fn out_of_dialog_request(&mut self, now: Instant, key: TxKey) {
        let Some(req) = self.request_of(&key).cloned() else {
            return;
        };
        match req.method {
            Method::Invite => self.new_invite(now, key, &req),
            Method::Options => {
                let r = self.options_response(&req);
                self.respond_tx(now, &key, r);
            }
            Method::Register => {
                let to = req.headers.to().ok();
                match to {
                    Some(to) if to.uri.is_sip() => {
                        let id = RequestId(self.fresh_id());
                        if let Some(tx) = self.server_txs.get_mut(&key) {
                            tx.pending = Some(id);
                        }
                        self.pending.insert(id, key.clone());
                        let peer = self.server_txs.get(&key).map(|t| t.peer);
                        let Some(peer) = peer else { return };
                        self.events.push_back(SipEvent::Register {
                            request: id,
                            aor: to.uri,
                            contacts: req.headers.contacts().unwrap_or(Contacts::List(Vec::new())),
                            expires: req.headers.expires(),
                            auth: req
                                .headers
                                .authorization()
                                .find_map(|a| DigestCredentials::parse(&a)),
                            call_id: req.headers.call_id().unwrap_or_default(),
                            cseq: req.headers.cseq().map(|c| c.seq).unwrap_or(0),
                            peer,
                        });
                    }
                    // RFC 4475 §3.3.4: an AOR must be a SIP or SIPS URI.
                    _ => self.respond_status(now, &key, 400, &[]),
                }
            }
            Method::Bye | Method::Info | Method::Update | Method::Prack => {
                self.respond_status(now, &key, 481, &[]);
            }
            Method::Other(_) => self.respond_status(now, &key, 501, &[("Allow", ALLOW.to_owned())]),
            _ => self.respond_status(now, &key, 405, &[("Allow", ALLOW.to_owned())]),
        }
    }

    fn new_invite(&mut self, now: Instant, key: TxKey, req: &Request) {
        let ctype = req.headers.content_type();
        if !req.body.is_empty() && ctype.as_deref() != Some("application/sdp") {
            let a = [("Accept", "application/sdp".to_owned())];
            self.respond_status(now, &key, 415, &a);
            return;
        }
        let accept = req.headers.tokens("Accept");
        if req.headers.get("Accept").is_some()
            && !accept.iter().any(|a| {
                let a = a
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                a == "application/sdp" || a == "application/*" || a == "*/*"
            })
        {
            let a = [("Accept", "application/sdp".to_owned())];
            self.respond_status(now, &key, 406, &a);
            return;
        }
        let (Ok(from), Ok(call_id)) = (req.headers.from(), req.headers.call_id()) else {
            self.respond_status(now, &key, 400, &[]);
            return;
        };
        // Trying at once: our TU answers within 200 ms rarely, and it stops INVITE
        // retransmissions (§17.2.1).
        let trying = self.response_for(req, 100, None);
        self.respond_tx(now, &key, trying);
        let id = CallId(self.fresh_id());
        let local_tag = self.rand_hex();
        let to_hdr = req.headers.text("To").unwrap_or_default().into_owned();
        let Some(tx) = self.server_txs.get_mut(&key) else {
            return;
        };
        tx.call = Some(id);
        let (peer, transport) = (tx.peer, tx.transport);
        let session = req.headers.session_expires();
        let peer_timer = req.headers.supported().iter().any(|s| s == "timer") || session.is_some();
        self.calls.insert(
            id,
            Call {
                state: CallState::Offered,
                sip_call_id: call_id.clone(),
                local_tag: local_tag.clone(),
                local_hdr: format!("{to_hdr};tag={local_tag}"),
                remote_hdr: req.headers.text("From").unwrap_or_default().into_owned(),
                remote_target: req
                    .headers
                    .contact()
                    .map_or_else(|| from.uri.to_string(), |c| c.uri.to_string()),
                local_cseq: 0,
                peer,
                transport,
                server_tx: Some(key),
                client_branch: None,
                ack: None,
                session: session.map(|s| (Duration::from_secs(u64::from(s.seconds)), now)),
                peer_timer,
                invite: None,
                invite_cseq: 0,
                auth_tried: false,
            },
        );
        self.dialogs.insert((call_id, local_tag), id);
        self.events.push_back(SipEvent::IncomingCall {
            call: id,
            to_user: req.uri.user().map(str::to_owned).or_else(|| {
                req.headers
                    .to()
                    .ok()
                    .and_then(|t| t.uri.user().map(str::to_owned))
            }),
            request_uri: req.uri.to_string(),
            offer: (!req.body.is_empty()).then(|| req.body.clone()),
            auth: req
                .headers
                .authorization()
                .find_map(|a| DigestCredentials::parse(&a)),
            from,
            peer,
        });
    }

    fn in_dialog_request(&mut self, now: Instant, key: TxKey, to_tag: &str) {
        let Some(req) = self.request_of(&key).cloned() else {
            return;
        };
        let call_id = req.headers.call_id().unwrap_or_default();
        let Some(&id) = self.dialogs.get(&(call_id, to_tag.to_owned())) else {
            self.respond_status(now, &key, 481, &[]);
            return;
        };
        if let Some(tx) = self.server_txs.get_mut(&key) {
            tx.call = Some(id);
        }
        let peer = self.server_txs.get(&key).map(|t| t.peer);
        if let (Some(call), Some(peer)) = (self.calls.get_mut(&id), peer) {
            // Follow the peer if its address changed (NAT rebinding).
            call.peer = peer;
        }
        match req.method {
            Method::Bye => {
                self.respond_status(now, &key, 200, &[]);
                self.end_call(id, EndReason::RemoteBye);
            }
            Method::Info => {
                self.respond_status(now, &key, 200, &[]);
                self.events.push_back(SipEvent::InfoReceived {
                    call: id,
                    content_type: req.headers.content_type(),
                    body: req.body.clone(),
                });
            }
            Method::Options => {
                let r = self.options_response(&req);
                self.respond_tx(now, &key, r);
            }
            Method::Invite | Method::Update => {
                let busy = self.calls.get(&id).is_some_and(|c| c.server_tx.is_some());
                if busy {
                    // RFC 3261 §14.2: one offer at a time.
                    self.respond_status(now, &key, 491, &[]);
                    return;
                }
                if req.method == Method::Update && req.body.is_empty() {
                    self.refresh_session(now, id, &req);
                    self.respond_status(now, &key, 200, &[]);
                    return;
                }
                if req.method == Method::Invite {
                    let trying = self.response_for(&req, 100, None);
                    self.respond_tx(now, &key, trying);
                }
                if let Some(call) = self.calls.get_mut(&id) {
                    call.server_tx = Some(key);
                }
                self.events.push_back(SipEvent::ReInvite {
                    call: id,
                    offer: (!req.body.is_empty()).then(|| req.body.clone()),
                });
            }
            Method::Other(_) => self.respond_status(now, &key, 501, &[("Allow", ALLOW.to_owned())]),
            _ => self.respond_status(now, &key, 405, &[("Allow", ALLOW.to_owned())]),
        }
    }

    fn handle_cancel(
        &mut self,
        now: Instant,
        transport: Transport,
        from: SocketAddr,
        key: TxKey,
        req: Request,
    ) {
        let invite_key = TxKey {
            method: "INVITE".to_owned(),
            ..key.clone()
        };
        let target = self
            .server_txs
            .get(&invite_key)
            .map(|t| (t.state, t.call, t.request.clone()));
        let Some((state, call, invite)) = target else {
            self.stateless(transport, from, &req, 481, &[]);
            return;
        };
        self.server_txs.insert(
            key.clone(),
            ServerTx {
                method: Method::Cancel,
                request: req,
                transport,
                peer: from,
                state: ServerState::Proceeding,
                last_response: None,
                call,
                pending: None,
            },
        );
        self.respond_status(now, &key, 200, &[]);
        if state == ServerState::Proceeding {
            let tag = call
                .and_then(|c| self.calls.get(&c))
                .map(|c| c.local_tag.clone());
            let r = self.response_for(&invite, 487, tag.as_deref());
            self.respond_tx(now, &invite_key, r);
            if let Some(c) = call
                && self
                    .calls
                    .get(&c)
                    .is_some_and(|c| c.state == CallState::Offered)
            {
                self.end_call(c, EndReason::Cancelled);
            }
        }
    }

    fn handle_ack(&mut self, now: Instant, key: &TxKey, req: &Request) {
        if let Some(tx) = self.server_txs.get_mut(key)
            && let ServerState::Completed { .. } = tx.state
        {
            // ACK for our non-2xx (§17.2.1): absorb retransmissions for timer I.
            let until = now
                + if tx.transport.reliable() {
                    Duration::ZERO
                } else {
                    self.cfg.timers.t4
                };
            tx.state = ServerState::Confirmed { until };
            self.arm(until, TimerRef::Server(key.clone()));
            return;
        }
        // ACK for a 2xx is its own transaction, matched to the dialog (§13.3.1.4, RFC 6026).
        let call_id = req.headers.call_id().unwrap_or_default();
        let Some(tag) = req.headers.to().ok().and_then(|t| t.tag) else {
            return;
        };
        let Some(&id) = self.dialogs.get(&(call_id, tag)) else {
            return;
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(tx_key) = call.server_tx.clone() else {
            return;
        };
        let accepted = self
            .server_txs
            .get(&tx_key)
            .is_some_and(|t| matches!(t.state, ServerState::Accepted { .. }));
        if !accepted {
            return;
        }
        call.server_tx = None;
        let first = call.state == CallState::Accepted;
        call.state = CallState::Confirmed;
        if let Some((interval, _)) = call.session {
            call.session = Some((interval, now + interval));
            self.arm(now + interval, TimerRef::Session(id));
        }
        self.server_txs.remove(&tx_key);
        if first {
            // An INVITE without SDP got our offer in the 200: the ACK carries the answer.
            let answer = (!req.body.is_empty()).then(|| req.body.clone());
            self.events
                .push_back(SipEvent::CallConfirmed { call: id, answer });
        }
    }

    fn handle_response(&mut self, now: Instant, resp: Response) {
        let Ok(via) = resp.headers.top_via() else {
            return;
        };
        let Ok(cseq) = resp.headers.cseq() else {
            return;
        };
        let key = (
            via.branch.unwrap_or_default(),
            cseq.method.as_str().to_owned(),
        );
        let Some(tx) = self.client_txs.get_mut(&key) else {
            // A retransmitted 2xx after our INVITE transaction ended: re-ACK (§13.2.2.4).
            if (200..300).contains(&resp.status) && cseq.method == Method::Invite {
                self.reack(&resp);
            }
            return;
        };
        let timers = self.cfg.timers;
        let status = resp.status;
        let (purpose, call) = (tx.purpose, tx.call);
        match tx.state {
            ClientState::Completed { .. } => {
                // Retransmitted final: resend our ACK for a non-2xx INVITE answer.
                if let Some(ack) = tx.ack.clone() {
                    let (t, d) = (tx.transport, tx.dest);
                    self.send(t, d, ack);
                }
                return;
            }
            ClientState::Trying {
                timeout_at,
                interval,
                ..
            }
            | ClientState::Proceeding {
                timeout_at,
                interval,
                ..
            } if status < 200 => {
                // INVITE stops retransmitting on 1xx; non-INVITE continues at T2 (§17.1.2.2).
                let retransmit_at = (purpose != Purpose::Invite && !tx.transport.reliable())
                    .then(|| now + timers.t2);
                tx.state = ClientState::Proceeding {
                    retransmit_at,
                    interval,
                    timeout_at,
                };
                if let Some(at) = retransmit_at {
                    self.arm(at, TimerRef::Client(key.0.clone(), key.1.clone()));
                }
                if purpose == Purpose::Invite
                    && (status == 180 || status == 183)
                    && let Some(call) = call
                {
                    self.events.push_back(SipEvent::Ringing { call });
                }
                return;
            }
            _ => {}
        }
        // A final response.
        let reliable = tx.transport.reliable();
        if purpose == Purpose::Invite && status >= 300 {
            let ack = self.non2xx_ack(&key, &resp);
            if let Some(tx) = self.client_txs.get_mut(&key) {
                tx.ack = ack.clone();
                let until = now
                    + if reliable {
                        Duration::ZERO
                    } else {
                        Duration::from_secs(32)
                    };
                tx.state = ClientState::Completed { until };
                let (t, d) = (tx.transport, tx.dest);
                if let Some(ack) = ack {
                    self.send(t, d, ack);
                }
                self.arm(until, TimerRef::Client(key.0.clone(), key.1.clone()));
            }
        } else if purpose == Purpose::Invite {
            // 2xx: the transaction ends; the dialog's ACK is the TU's (§13.2.2.4).
            self.client_txs.remove(&key);
        } else if let Some(tx) = self.client_txs.get_mut(&key) {
            let until = now + if reliable { Duration::ZERO } else { timers.t4 };
            tx.state = ClientState::Completed { until };
            self.arm(until, TimerRef::Client(key.0.clone(), key.1.clone()));
        }
        self.client_final(now, purpose, call, &resp);
    }

    fn server_timer(&mut self, now: Instant, key: &TxKey) {
        let Some(tx) = self.server_txs.get_mut(key) else {
            return;
        };
        let t2 = self.cfg.timers.t2;
        match tx.state {
            ServerState::Proceeding => {}
            ServerState::Accepted {
                retransmit_at,
                interval,
                give_up_at,
            } => {
                if now >= give_up_at {
                    let call = tx.call;
                    self.server_txs.remove(key);
                    if let Some(call) = call {
                        if let Some(c) = self.calls.get_mut(&call) {
                            c.server_tx = None;
                        }
                        self.ack_timeout(now, call);
                    }
                } else if now >= retransmit_at {
                    let next = (interval * 2).min(t2);
                    tx.state = ServerState::Accepted {
                        retransmit_at: now + next,
                        interval: next,
                        give_up_at,
                    };
                    let (t, p, r) = (tx.transport, tx.peer, tx.last_response.clone());
                    if let Some(r) = r {
                        self.send(t, p, r);
                    }
                    self.arm((now + next).min(give_up_at), TimerRef::Server(key.clone()));
                } else {
                    self.arm(retransmit_at.min(give_up_at), TimerRef::Server(key.clone()));
                }
            }
            ServerState::Completed {
                retransmit_at,
                interval,
                give_up_at,
            } => {
                if now >= give_up_at {
                    // Timer H (no ACK) or J: the transaction is over either way.
                    self.server_txs.remove(key);
                } else if let Some(at) = retransmit_at
                    && now >= at
                {
                    let next = (interval * 2).min(t2);
                    tx.state = ServerState::Completed {
                        retransmit_at: Some(now + next),
                        interval: next,
                        give_up_at,
                    };
                    let (t, p, r) = (tx.transport, tx.peer, tx.last_response.clone());
                    if let Some(r) = r {
                        self.send(t, p, r);
                    }
                    self.arm((now + next).min(give_up_at), TimerRef::Server(key.clone()));
                } else if let Some(d) = tx.deadline() {
                    self.arm(d, TimerRef::Server(key.clone()));
                }
            }
            ServerState::Confirmed { until } => {
                if now >= until {
                    self.server_txs.remove(key);
                } else {
                    self.arm(until, TimerRef::Server(key.clone()));
                }
            }
        }
    }

    fn client_timer(&mut self, now: Instant, key: &(String, String)) {
        let Some(tx) = self.client_txs.get_mut(key) else {
            return;
        };
        let t2 = self.cfg.timers.t2;
        let (retransmit_at, interval, timeout_at, proceeding) = match tx.state {
            ClientState::Completed { until } => {
                if now >= until {
                    self.client_txs.remove(key);
                } else {
                    self.arm(until, TimerRef::Client(key.0.clone(), key.1.clone()));
                }
                return;
            }
            ClientState::Trying {
                retransmit_at,
                interval,
                timeout_at,
            } => (retransmit_at, interval, timeout_at, false),
            ClientState::Proceeding {
                retransmit_at,
                interval,
                timeout_at,
            } => (retransmit_at, interval, timeout_at, true),
        };
        if now >= timeout_at {
            // Timer B or F.
            let (purpose, call) = (tx.purpose, tx.call);
            self.client_txs.remove(key);
            self.client_timeout(now, purpose, call);
            return;
        }
        let mut next_retransmit = retransmit_at;
        let mut next_interval = interval;
        if let Some(at) = retransmit_at
            && now >= at
        {
            // A/E double (E capped at T2); in Proceeding non-INVITE resends every T2.
            next_interval = if tx.purpose == Purpose::Invite {
                interval * 2
            } else {
                (interval * 2).min(t2)
            };
            if proceeding {
                next_interval = t2;
            }
            next_retransmit = Some(now + next_interval);
            let (t, d, b) = (tx.transport, tx.dest, tx.bytes.clone());
            self.send(t, d, b);
        }
        let Some(tx) = self.client_txs.get_mut(key) else {
            return;
        };
        tx.state = if proceeding {
            ClientState::Proceeding {
                retransmit_at: next_retransmit,
                interval: next_interval,
                timeout_at,
            }
        } else {
            ClientState::Trying {
                retransmit_at: next_retransmit,
                interval: next_interval,
                timeout_at,
            }
        };
        if let Some(d) = tx.deadline() {
            self.arm(d, TimerRef::Client(key.0.clone(), key.1.clone()));
        }
    }

    fn session_timer(&mut self, now: Instant, id: CallId) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let Some((_, deadline)) = call.session else {
            return;
        };
        if call.state != CallState::Confirmed {
            return;
        }
        if now < deadline {
            // Refreshed since this timer was armed.
            self.arm(deadline, TimerRef::Session(id));
            return;
        }
        tracing::info!(call = ?id, "session timer expired without refresh");
        self.send_bye(now, id);
        self.end_call(id, EndReason::SessionExpired);
    }

    pub(crate) fn refresh_session(&mut self, now: Instant, id: CallId, req: &Request) {
        let arm = if let Some(call) = self.calls.get_mut(&id) {
            if let Some(se) = req.headers.session_expires() {
                let interval = Duration::from_secs(u64::from(se.seconds));
                call.session = Some((interval, now));
            }
            match call.session {
                Some((interval, _)) if call.state == CallState::Confirmed => {
                    call.session = Some((interval, now + interval));
                    Some(now + interval)
                }
                _ => None,
            }
        } else {
            None
        };
        if let Some(at) = arm {
            self.arm(at, TimerRef::Session(id));
        }
    }
}
