//! Output side of [`SipCore`]: the caller's decisions, requests we originate, and the shared
//! helpers that build and send messages.

use std::time::Instant;

use bytes::Bytes;

use super::*;

/// Above this size a request is not sent over UDP (RFC 3261 §18.1.1, path MTU unknown).
const MAX_UDP_REQUEST: usize = 1300;

impl SipCore {
    pub(crate) fn fresh_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub(crate) fn rand_hex(&mut self) -> String {
        // xorshift64*: tags and branches need uniqueness, not secrecy.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        format!("{:016x}", self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d))
    }

    pub(crate) fn arm(&mut self, at: Instant, r: TimerRef) {
        self.timers.push(Reverse((at, r)));
    }

    pub(crate) fn send(&mut self, transport: Transport, dest: SocketAddr, bytes: Bytes) {
        self.transmits.push_back(Transmit {
            transport,
            dest,
            bytes,
        });
    }

    /// A response with our Server header; `to_tag` goes into To for non-100 answers.
    pub(crate) fn response_for(
        &self,
        req: &Request,
        status: u16,
        to_tag: Option<&str>,
    ) -> Response {
        let mut r = req.make_response(status, to_tag);
        r.headers.push("Server", self.cfg.user_agent.clone());
        r
    }

    /// Answer without a transaction (malformed or unroutable requests).
    pub(crate) fn stateless(
        &mut self,
        transport: Transport,
        dest: SocketAddr,
        req: &Request,
        status: u16,
        extra: &[(&str, String)],
    ) {
        let tag = self.rand_hex();
        let mut r = self.response_for(req, status, Some(&tag));
        for (n, v) in extra {
            r.headers.push(n, v.clone());
        }
        self.send(transport, dest, SipMessage::Response(r).to_bytes());
    }

    pub(crate) fn options_response(&mut self, req: &Request) -> Response {
        let tag = self.rand_hex();
        let mut r = self.response_for(req, 200, Some(&tag));
        r.headers.push("Allow", ALLOW);
        r.headers.push("Accept", "application/sdp");
        r.headers.push("Supported", SUPPORTED);
        r
    }

    pub(crate) fn respond_status(
        &mut self,
        now: Instant,
        key: &TxKey,
        status: u16,
        extra: &[(&str, String)],
    ) {
        let Some(req) = self.server_txs.get(key).map(|t| t.request.clone()) else {
            return;
        };
        let tag = match self.server_txs.get(key).and_then(|t| t.call) {
            Some(c) => self.calls.get(&c).map(|c| c.local_tag.clone()),
            None => None,
        };
        let tag = tag.unwrap_or_else(|| self.rand_hex());
        let mut r = self.response_for(&req, status, Some(&tag));
        for (n, v) in extra {
            r.headers.push(n, v.clone());
        }
        self.respond_tx(now, key, r);
    }

    /// Send a response through its server transaction and move the state machine.
    pub(crate) fn respond_tx(&mut self, now: Instant, key: &TxKey, resp: Response) {
        let timers = self.cfg.timers;
        let Some(tx) = self.server_txs.get_mut(key) else {
            return;
        };
        let status = resp.status;
        let bytes = SipMessage::Response(resp).to_bytes();
        tx.last_response = Some(bytes.clone());
        let (t, p) = (tx.transport, tx.peer);
        let reliable = t.reliable();
        let invite = tx.method == Method::Invite;
        if status >= 200 {
            tx.pending = None;
            tx.state = if invite && status < 300 {
                ServerState::Accepted {
                    retransmit_at: now + timers.t1,
                    interval: timers.t1,
                    give_up_at: now + timers.timeout(),
                }
            } else if invite {
                ServerState::Completed {
                    retransmit_at: (!reliable).then(|| now + timers.t1),
                    interval: timers.t1,
                    give_up_at: now + timers.timeout(),
                }
            } else {
                ServerState::Completed {
                    retransmit_at: None,
                    interval: timers.t1,
                    give_up_at: now
                        + if reliable {
                            Duration::ZERO
                        } else {
                            timers.timeout()
                        },
                }
            };
            if invite && status < 300 && reliable {
                // No retransmission over TCP (§13.3.1.4); only the give-up deadline matters.
                if let ServerState::Accepted { give_up_at, .. } = tx.state {
                    tx.state = ServerState::Accepted {
                        retransmit_at: give_up_at,
                        interval: timers.t1,
                        give_up_at,
                    };
                }
            }
            if let Some(d) = tx.deadline() {
                self.arm(d, TimerRef::Server(key.clone()));
            }
        }
        self.send(t, p, bytes);
    }

    fn call_mut(&mut self, call: CallId) -> Result<&mut Call, SipError> {
        self.calls
            .get_mut(&call)
            .ok_or(SipError::Caller(CallerError::UnknownCall(call.0)))
    }

    fn offered_tx(&mut self, call: CallId, operation: &'static str) -> Result<TxKey, SipError> {
        let c = self.call_mut(call)?;
        match (&c.state, &c.server_tx) {
            (CallState::Offered, Some(k)) => Ok(k.clone()),
            (s, _) => Err(CallerError::WrongState {
                call: call.0,
                state: s.name(),
                operation,
            }
            .into()),
        }
    }

    /// Answer an incoming call 200 OK with this SDP answer. The 2xx is retransmitted until the
    /// ACK arrives ([`SipEvent::CallConfirmed`]) or 64·T1 pass ([`EndReason::AckTimeout`]).
    ///
    /// # Errors
    /// Unknown call, or the call is not waiting for a decision.
    pub fn accept(&mut self, now: Instant, call: CallId, answer: Bytes) -> Result<(), SipError> {
        let key = self.offered_tx(call, "accept")?;
        let req = self
            .server_txs
            .get(&key)
            .map(|t| t.request.clone())
            .ok_or(SipError::Bug("offered call without transaction"))?;
        let r = self.success_response(now, call, &req, answer)?;
        if let Some(c) = self.calls.get_mut(&call) {
            c.state = CallState::Accepted;
        }
        self.respond_tx(now, &key, r);
        Ok(())
    }

    fn success_response(
        &mut self,
        now: Instant,
        call: CallId,
        req: &Request,
        answer: Bytes,
    ) -> Result<Response, SipError> {
        let contact = format!("<sip:{}:{}>", self.cfg.local_host, self.cfg.local_port);
        let min_se = self.cfg.min_session_expires;
        let c = self.call_mut(call)?;
        let mut r = req.make_response(200, Some(&c.local_tag));
        r.headers.push("Contact", contact);
        r.headers.push("Allow", ALLOW);
        r.headers.push("Supported", SUPPORTED);
        if let Some(se) = req.headers.session_expires() {
            // RFC 4028 §9: the UAC refreshes unless it asked otherwise; we only watch expiry.
            let secs = se.seconds.max(min_se);
            let refresher = if se.refresher == Some(crate::headers::Refresher::Uas) {
                "uas"
            } else {
                "uac"
            };
            r.headers
                .push("Session-Expires", format!("{secs};refresher={refresher}"));
            if c.peer_timer {
                r.headers.push("Require", "timer");
            }
            c.session = Some((Duration::from_secs(u64::from(secs)), now));
        }
        if !answer.is_empty() {
            r.headers.push("Content-Type", "application/sdp");
        }
        r.body = answer;
        let ua = self.cfg.user_agent.clone();
        r.headers.push("Server", ua);
        Ok(r)
    }

    /// Refuse an incoming call with a final status (300-699), optionally with Retry-After.
    ///
    /// # Errors
    /// Unknown call, wrong state, or a status outside 300..=699.
    pub fn reject(
        &mut self,
        now: Instant,
        call: CallId,
        status: u16,
        retry_after: Option<u32>,
    ) -> Result<(), SipError> {
        if !(300..=699).contains(&status) {
            return Err(CallerError::BadStatus(status).into());
        }
        let key = self.offered_tx(call, "reject")?;
        let extra: Vec<(&str, String)> = retry_after
            .map(|s| ("Retry-After", s.to_string()))
            .into_iter()
            .collect();
        self.respond_status(now, &key, status, &extra);
        self.forget_call(call);
        Ok(())
    }

    /// Answer 401 with these WWW-Authenticate values (from
    /// [`crate::digest::DigestServer::challenge`]). The peer retries with a new INVITE, which
    /// arrives as a new [`SipEvent::IncomingCall`].
    ///
    /// # Errors
    /// Unknown call or wrong state.
    pub fn challenge(
        &mut self,
        now: Instant,
        call: CallId,
        www_authenticate: &[String],
    ) -> Result<(), SipError> {
        let key = self.offered_tx(call, "challenge")?;
        let extra: Vec<(&str, String)> = www_authenticate
            .iter()
            .map(|v| ("WWW-Authenticate", v.clone()))
            .collect();
        self.respond_status(now, &key, 401, &extra);
        self.forget_call(call);
        Ok(())
    }

    /// Answer a pending request (REGISTER) with a status and extra headers (e.g. Contact and
    /// Expires for a 200, WWW-Authenticate for a 401).
    ///
    /// # Errors
    /// Unknown request, or a status outside 200..=699.
    pub fn respond(
        &mut self,
        now: Instant,
        request: RequestId,
        status: u16,
        headers: &[(&str, String)],
    ) -> Result<(), SipError> {
        if !(200..=699).contains(&status) {
            return Err(CallerError::BadStatus(status).into());
        }
        for (n, v) in headers {
            if n.is_empty() || v.contains(['\r', '\n']) {
                return Err(CallerError::BadHeader((*n).to_owned()).into());
            }
        }
        let key = self
            .pending
            .remove(&request)
            .ok_or(CallerError::UnknownRequest(request.0))?;
        self.respond_status(now, &key, status, headers);
        Ok(())
    }

    /// Answer a [`SipEvent::ReInvite`] with 200 and our new SDP.
    ///
    /// # Errors
    /// Unknown call or no re-INVITE pending.
    pub fn accept_reinvite(
        &mut self,
        now: Instant,
        call: CallId,
        answer: Bytes,
    ) -> Result<(), SipError> {
        let key = self.pending_reinvite(call)?;
        let req = self
            .server_txs
            .get(&key)
            .map(|t| t.request.clone())
            .ok_or(SipError::Bug("re-INVITE without transaction"))?;
        let r = self.success_response(now, call, &req, answer)?;
        if req.method == Method::Update
            && let Some(c) = self.calls.get_mut(&call)
        {
            c.server_tx = None;
        }
        self.respond_tx(now, &key, r);
        self.refresh_session(now, call, &req);
        Ok(())
    }

    /// Refuse a [`SipEvent::ReInvite`] (e.g. 488); the call continues with the old session.
    ///
    /// # Errors
    /// Unknown call, no re-INVITE pending, or a status outside 300..=699.
    pub fn reject_reinvite(
        &mut self,
        now: Instant,
        call: CallId,
        status: u16,
    ) -> Result<(), SipError> {
        if !(300..=699).contains(&status) {
            return Err(CallerError::BadStatus(status).into());
        }
        let key = self.pending_reinvite(call)?;
        self.respond_status(now, &key, status, &[]);
        if let Some(c) = self.calls.get_mut(&call) {
            c.server_tx = None;
        }
        Ok(())
    }

    fn pending_reinvite(&mut self, call: CallId) -> Result<TxKey, SipError> {
        let c = self.call_mut(call)?;
        match (&c.state, &c.server_tx) {
            (CallState::Confirmed, Some(k)) => Ok(k.clone()),
            (s, _) => Err(CallerError::WrongState {
                call: call.0,
                state: s.name(),
                operation: "answer re-INVITE",
            }
            .into()),
        }
    }

    pub(crate) fn forget_call(&mut self, call: CallId) {
        if let Some(c) = self.calls.remove(&call) {
            self.dialogs.remove(&(c.sip_call_id, c.local_tag));
        }
    }

    pub(crate) fn end_call(&mut self, call: CallId, reason: EndReason) {
        if self.calls.contains_key(&call) {
            self.forget_call(call);
            self.events.push_back(SipEvent::CallEnded { call, reason });
        }
    }

    pub(crate) fn ack_timeout(&mut self, now: Instant, call: CallId) {
        let initial = self
            .calls
            .get(&call)
            .is_some_and(|c| c.state == CallState::Accepted);
        tracing::info!(?call, initial, "no ACK for our 2xx");
        // §13.3.1.4: the UAS core SHOULD end the dialog with a BYE.
        self.send_bye(now, call);
        self.end_call(call, EndReason::AckTimeout);
    }

    fn dialog_request(
        &mut self,
        call: CallId,
        method: Method,
    ) -> Result<(Request, Transport, SocketAddr), SipError> {
        let host = self.cfg.local_host.clone();
        let port = self.cfg.local_port;
        let ua = self.cfg.user_agent.clone();
        let branch = format!("z9hG4bK{}", self.rand_hex());
        let c = self.call_mut(call)?;
        let uri = Uri::parse(&c.remote_target)
            .ok_or_else(|| CallerError::BadUri(c.remote_target.clone()))?;
        c.local_cseq = c.local_cseq.saturating_add(1);
        let mut r = Request::new(method.clone(), uri);
        r.headers.push(
            "Via",
            format!(
                "SIP/2.0/{} {host}:{port};branch={branch};rport",
                c.transport.token()
            ),
        );
        r.headers.push("Max-Forwards", "70");
        r.headers.push("From", c.local_hdr.clone());
        r.headers.push("To", c.remote_hdr.clone());
        r.headers.push("Call-ID", c.sip_call_id.clone());
        r.headers
            .push("CSeq", format!("{} {}", c.local_cseq, method));
        r.headers.push("User-Agent", ua);
        Ok((r, c.transport, c.peer))
    }

    fn start_client(
        &mut self,
        now: Instant,
        mut req: Request,
        mut transport: Transport,
        dest: SocketAddr,
        call: Option<CallId>,
        purpose: Purpose,
    ) {
        // RFC 3261 §18.1.1: a request larger than 1300 bytes (path MTU unknown) goes over a
        // congestion-controlled transport. An INVITE with our full offer and credentials
        // crosses it.
        let mut udp_fallback = false;
        if transport == Transport::Udp
            && SipMessage::Request(req.clone()).to_bytes().len() > MAX_UDP_REQUEST
        {
            if let Some(via) = req.headers.text("Via").map(|v| v.into_owned()) {
                req.headers
                    .set("Via", via.replacen("SIP/2.0/UDP", "SIP/2.0/TCP", 1));
            }
            transport = Transport::Tcp;
            udp_fallback = true;
            if purpose == Purpose::Invite
                && let Some(c) = call.and_then(|id| self.calls.get_mut(&id))
            {
                c.transport = Transport::Tcp;
            }
        }
        let branch = req
            .headers
            .top_via()
            .ok()
            .and_then(|v| v.branch)
            .unwrap_or_default();
        let key = (branch, req.method.as_str().to_owned());
        let bytes = SipMessage::Request(req.clone()).to_bytes();
        let t1 = self.cfg.timers.t1;
        let tx = ClientTx {
            request: req,
            bytes: bytes.clone(),
            transport,
            dest,
            state: ClientState::Trying {
                retransmit_at: (!transport.reliable()).then(|| now + t1),
                interval: t1,
                timeout_at: now + self.cfg.timers.timeout(),
            },
            call,
            purpose,
            ack: None,
            udp_fallback,
        };
        if let Some(d) = tx.deadline() {
            self.arm(d, TimerRef::Client(key.0.clone(), key.1.clone()));
        }
        self.client_txs.insert(key, tx);
        self.send(transport, dest, bytes);
    }

    pub(crate) fn send_bye(&mut self, now: Instant, call: CallId) {
        if let Ok((req, t, d)) = self.dialog_request(call, Method::Bye) {
            self.start_client(now, req, t, d, None, Purpose::Bye);
        }
    }

    /// Hang up: BYE for an established call (or one we answered), CANCEL for a dial-out not yet
    /// answered. [`SipEvent::CallEnded`] follows when the BYE completes; a cancelled dial-out
    /// ends with [`SipEvent::Failed`] (487).
    ///
    /// # Errors
    /// Unknown call, or an incoming call still undecided (use [`SipCore::reject`]).
    pub fn bye(&mut self, now: Instant, call: CallId) -> Result<(), SipError> {
        let state = self.call_mut(call)?.state;
        match state {
            CallState::Confirmed | CallState::Accepted => {
                let (req, t, d) = self.dialog_request(call, Method::Bye)?;
                if let Some(c) = self.calls.get_mut(&call) {
                    c.state = CallState::Terminating;
                }
                self.start_client(now, req, t, d, Some(call), Purpose::Bye);
                Ok(())
            }
            CallState::Calling => self.cancel(now, call),
            s => Err(CallerError::WrongState {
                call: call.0,
                state: s.name(),
                operation: "bye",
            }
            .into()),
        }
    }

    fn cancel(&mut self, now: Instant, call: CallId) -> Result<(), SipError> {
        let branch = self
            .calls
            .get(&call)
            .and_then(|c| c.client_branch.clone())
            .ok_or(SipError::Bug("calling without branch"))?;
        let invite = self
            .client_txs
            .get(&(branch.clone(), "INVITE".to_owned()))
            .map(|t| (t.request.clone(), t.transport, t.dest));
        let Some((inv, t, d)) = invite else {
            return Ok(());
        };
        // §9.1: same Request-URI, Call-ID, To, From, top Via and CSeq number as the INVITE.
        let mut r = Request::new(Method::Cancel, inv.uri.clone());
        for name in ["Via", "From", "To", "Call-ID"] {
            if let Some(h) = inv.headers.get(name) {
                r.headers.push(name, h.value().clone());
            }
        }
        let seq = inv.headers.cseq().map(|c| c.seq).unwrap_or(1);
        r.headers.push("CSeq", format!("{seq} CANCEL"));
        r.headers.push("Max-Forwards", "70");
        self.start_client(now, r, t, d, Some(call), Purpose::Cancel);
        Ok(())
    }

    /// Send an INFO in an established call (e.g. `application/media_control+xml` with
    /// `picture_fast_update`, RFC 5168).
    ///
    /// # Errors
    /// Unknown call, call not established, or a content type with CR/LF.
    pub fn send_info(
        &mut self,
        now: Instant,
        call: CallId,
        content_type: &str,
        body: Bytes,
    ) -> Result<(), SipError> {
        let state = self.call_mut(call)?.state;
        if state != CallState::Confirmed {
            return Err(CallerError::WrongState {
                call: call.0,
                state: state.name(),
                operation: "send INFO",
            }
            .into());
        }
        if content_type.contains(['\r', '\n']) {
            return Err(CallerError::BadHeader(content_type.to_owned()).into());
        }
        let (mut req, t, d) = self.dialog_request(call, Method::Info)?;
        req.headers.push("Content-Type", content_type.to_owned());
        req.body = body;
        self.start_client(now, req, t, d, Some(call), Purpose::Other);
        Ok(())
    }

    /// Dial out: send an INVITE (with `offer`, or none to get the peer's offer in the 2xx).
    /// Outcomes: [`SipEvent::Ringing`], [`SipEvent::Answered`] (ACK sent by the core) or
    /// [`SipEvent::Failed`].
    ///
    /// # Errors
    /// A target URI or user that is not valid SIP.
    pub fn invite(
        &mut self,
        now: Instant,
        target: &DialTarget,
        from_user: &str,
        offer: Option<Bytes>,
    ) -> Result<CallId, SipError> {
        let uri = Uri::parse(&target.uri).ok_or_else(|| CallerError::BadUri(target.uri.clone()))?;
        if !uri.is_sip() {
            return Err(CallerError::BadUri(target.uri.clone()).into());
        }
        if from_user.is_empty()
            || !from_user
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.!~*'()&=+$,;?/".contains(c))
        {
            return Err(CallerError::BadUri(from_user.to_owned()).into());
        }
        let (host, port) = (self.cfg.local_host.clone(), self.cfg.local_port);
        let id = CallId(self.fresh_id());
        let tag = self.rand_hex();
        let call_id = format!("{}@{host}", self.rand_hex());
        let branch = format!("z9hG4bK{}", self.rand_hex());
        let local_hdr = format!("<sip:{from_user}@{host}>;tag={tag}");
        let remote_hdr = format!("<{}>", target.uri);
        let mut r = Request::new(Method::Invite, uri);
        r.headers.push(
            "Via",
            format!(
                "SIP/2.0/{} {host}:{port};branch={branch};rport",
                target.transport.token()
            ),
        );
        r.headers.push("Max-Forwards", "70");
        r.headers.push("From", local_hdr.clone());
        r.headers.push("To", remote_hdr.clone());
        r.headers.push("Call-ID", call_id.clone());
        r.headers.push("CSeq", "1 INVITE");
        r.headers
            .push("Contact", format!("<sip:{from_user}@{host}:{port}>"));
        r.headers.push("Allow", ALLOW);
        r.headers.push("Supported", SUPPORTED);
        r.headers.push("User-Agent", self.cfg.user_agent.clone());
        if let Some(offer) = offer {
            r.headers.push("Content-Type", "application/sdp");
            r.body = offer;
        }
        self.calls.insert(
            id,
            Call {
                state: CallState::Calling,
                sip_call_id: call_id.clone(),
                local_tag: tag.clone(),
                local_hdr,
                remote_hdr,
                remote_target: target.uri.clone(),
                local_cseq: 1,
                peer: target.dest,
                transport: target.transport,
                server_tx: None,
                client_branch: Some(branch),
                ack: None,
                session: None,
                peer_timer: false,
                invite: Some(r.clone()),
                invite_cseq: 1,
                auth_tried: false,
            },
        );
        self.dialogs.insert((call_id, tag), id);
        self.start_client(
            now,
            r,
            target.transport,
            target.dest,
            Some(id),
            Purpose::Invite,
        );
        Ok(id)
    }

    /// Dial-out: resend the INVITE of `call` with credentials answering its
    /// [`SipEvent::AuthChallenge`] (`value` from `DigestChallenge::answer`): same Call-ID and
    /// tag, next CSeq, new branch (RFC 3261 §22.2). The header is `Authorization` after a 401,
    /// `Proxy-Authorization` after a 407.
    ///
    /// # Errors
    /// [`CallerError::UnknownCall`] when the call is gone or was not challenged.
    pub fn answer_challenge(
        &mut self,
        now: Instant,
        call: CallId,
        status: u16,
        value: &str,
    ) -> Result<(), SipError> {
        let branch = format!("z9hG4bK{}", self.rand_hex());
        let (host, port) = (self.cfg.local_host.clone(), self.cfg.local_port);
        let c = self
            .calls
            .get_mut(&call)
            .filter(|c| c.state == CallState::Calling && !c.auth_tried)
            .ok_or(CallerError::UnknownCall(call.0))?;
        let mut req = c.invite.clone().ok_or(CallerError::UnknownCall(call.0))?;
        c.auth_tried = true;
        c.invite_cseq += 1;
        c.local_cseq = c.invite_cseq;
        c.client_branch = Some(branch.clone());
        let (t, d, cseq) = (c.transport, c.peer, c.invite_cseq);
        req.headers.set(
            "Via",
            format!("SIP/2.0/{} {host}:{port};branch={branch};rport", t.token()),
        );
        req.headers.set("CSeq", format!("{cseq} INVITE"));
        let name = if status == 407 {
            "Proxy-Authorization"
        } else {
            "Authorization"
        };
        req.headers.push(name, value.to_owned());
        self.start_client(now, req, t, d, Some(call), Purpose::Invite);
        Ok(())
    }

    /// The service could not open a TCP connection to `peer`. Requests that went to TCP only
    /// because of their size are sent again over UDP (RFC 3261 §18.1.1), with a new branch;
    /// the others time out as usual.
    pub fn connection_failed(&mut self, now: Instant, peer: SocketAddr) {
        let keys: Vec<(String, String)> = self
            .client_txs
            .iter()
            .filter(|(_, t)| {
                t.dest == peer && t.udp_fallback && matches!(t.state, ClientState::Trying { .. })
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            let Some(tx) = self.client_txs.remove(&key) else {
                continue;
            };
            let mut req = tx.request;
            let branch = format!("z9hG4bK{}", self.rand_hex());
            let (host, port) = (self.cfg.local_host.clone(), self.cfg.local_port);
            req.headers.set(
                "Via",
                format!("SIP/2.0/UDP {host}:{port};branch={branch};rport"),
            );
            if tx.purpose == Purpose::Invite
                && let Some(c) = tx.call.and_then(|id| self.calls.get_mut(&id))
            {
                c.transport = Transport::Udp;
                c.client_branch = Some(branch.clone());
            }
            let bytes = SipMessage::Request(req.clone()).to_bytes();
            let t1 = self.cfg.timers.t1;
            let retry = ClientTx {
                request: req,
                bytes: bytes.clone(),
                transport: Transport::Udp,
                dest: peer,
                state: ClientState::Trying {
                    retransmit_at: Some(now + t1),
                    interval: t1,
                    timeout_at: now + self.cfg.timers.timeout(),
                },
                call: tx.call,
                purpose: tx.purpose,
                ack: None,
                udp_fallback: false,
            };
            if let Some(d) = retry.deadline() {
                self.arm(d, TimerRef::Client(branch.clone(), key.1.clone()));
            }
            self.client_txs.insert((branch, key.1), retry);
            self.send(Transport::Udp, peer, bytes);
        }
    }

    /// Dial-out: give up a challenged call (no credentials for it): reported as
    /// [`SipEvent::Failed`] with `status`.
    pub fn abandon_call(&mut self, call: CallId, status: u16) {
        if self.calls.contains_key(&call) {
            self.forget_call(call);
            self.events.push_back(SipEvent::Failed {
                call,
                status,
                retry_after: None,
            });
        }
    }

    /// ACK for a non-2xx final, same branch as the INVITE (§17.1.1.3).
    pub(crate) fn non2xx_ack(&self, key: &(String, String), resp: &Response) -> Option<Bytes> {
        let tx = self.client_txs.get(key)?;
        let inv = &tx.request;
        let mut r = Request::new(Method::Ack, inv.uri.clone());
        for name in ["Via", "From", "Call-ID"] {
            r.headers.push(name, inv.headers.get(name)?.value().clone());
        }
        r.headers
            .push("To", resp.headers.get("To")?.value().clone());
        let seq = inv.headers.cseq().ok()?.seq;
        r.headers.push("CSeq", format!("{seq} ACK"));
        r.headers.push("Max-Forwards", "70");
        Some(SipMessage::Request(r).to_bytes())
    }

    pub(crate) fn reack(&mut self, resp: &Response) {
        let Ok(call_id) = resp.headers.call_id() else {
            return;
        };
        let Some(tag) = resp.headers.from().ok().and_then(|f| f.tag) else {
            return;
        };
        if let Some(id) = self.dialogs.get(&(call_id, tag))
            && let Some(c) = self.calls.get(id)
            && let Some(ack) = c.ack.clone()
        {
            let (t, p) = (c.transport, c.peer);
            self.send(t, p, ack);
        }
    }

    pub(crate) fn client_final(
        &mut self,
        now: Instant,
        purpose: Purpose,
        call: Option<CallId>,
        resp: &Response,
    ) {
        let Some(id) = call else { return };
        match purpose {
            Purpose::Invite if (200..300).contains(&resp.status) => {
                self.answered(now, id, resp);
            }
            Purpose::Invite if matches!(resp.status, 401 | 407) => {
                let first = self
                    .calls
                    .get(&id)
                    .is_some_and(|c| !c.auth_tried && c.state == CallState::Calling);
                let name = if resp.status == 401 {
                    "WWW-Authenticate"
                } else {
                    "Proxy-Authenticate"
                };
                let challenges: Vec<String> = resp
                    .headers
                    .get_all(name)
                    .map(|h| h.value_str().into_owned())
                    .collect();
                if first && !challenges.is_empty() {
                    self.events.push_back(SipEvent::AuthChallenge {
                        call: id,
                        status: resp.status,
                        challenges,
                    });
                } else {
                    // A second challenge means the credentials were refused.
                    self.abandon_call(id, resp.status);
                }
            }
            Purpose::Invite => {
                self.forget_call(id);
                self.events.push_back(SipEvent::Failed {
                    call: id,
                    status: resp.status,
                    retry_after: resp.headers.retry_after(),
                });
            }
            Purpose::Bye => self.end_call(id, EndReason::LocalBye),
            Purpose::Cancel | Purpose::Other => {
                if resp.status == 481 || resp.status == 408 {
                    // The peer forgot the dialog: it is over.
                    if self
                        .calls
                        .get(&id)
                        .is_some_and(|c| c.state == CallState::Confirmed)
                    {
                        self.end_call(id, EndReason::Timeout);
                    }
                }
            }
        }
    }

    fn answered(&mut self, now: Instant, id: CallId, resp: &Response) {
        let remote_to = resp.headers.text("To").map(|t| t.into_owned());
        let contact = resp.headers.contact().map(|c| c.uri.to_string());
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        if c.state != CallState::Calling {
            return;
        }
        if let Some(to) = remote_to {
            c.remote_hdr = to;
        }
        if let Some(contact) = contact {
            c.remote_target = contact;
        }
        c.state = CallState::Confirmed;
        if let Some(se) = resp.headers.session_expires() {
            let interval = Duration::from_secs(u64::from(se.seconds));
            c.session = Some((interval, now + interval));
        }
        let session_at = c.session.map(|(_, at)| at);
        // The ACK reuses the INVITE's CSeq number (§13.2.2.4): 1, or 2 after a challenge.
        let invite_cseq = c.invite_cseq;
        c.invite = None;
        let ack = self.dialog_request(id, Method::Ack).ok();
        if let Some((mut ack, t, d)) = ack {
            ack.headers.set("CSeq", format!("{invite_cseq} ACK"));
            if let Some(c) = self.calls.get_mut(&id) {
                c.local_cseq = invite_cseq;
            }
            let bytes = SipMessage::Request(ack).to_bytes();
            if let Some(c) = self.calls.get_mut(&id) {
                c.ack = Some(bytes.clone());
            }
            self.send(t, d, bytes);
        }
        if let Some(at) = session_at {
            self.arm(at, TimerRef::Session(id));
        }
        self.events.push_back(SipEvent::Answered {
            call: id,
            answer: (!resp.body.is_empty()).then(|| resp.body.clone()),
        });
    }

    pub(crate) fn client_timeout(&mut self, _now: Instant, purpose: Purpose, call: Option<CallId>) {
        let Some(id) = call else { return };
        match purpose {
            Purpose::Invite => {
                if self
                    .calls
                    .get(&id)
                    .is_some_and(|c| c.state == CallState::Calling)
                {
                    self.forget_call(id);
                    self.events.push_back(SipEvent::Failed {
                        call: id,
                        status: 408,
                        retry_after: None,
                    });
                }
            }
            Purpose::Bye => self.end_call(id, EndReason::LocalBye),
            Purpose::Cancel | Purpose::Other => {
                if self
                    .calls
                    .get(&id)
                    .is_some_and(|c| c.state == CallState::Confirmed)
                {
                    self.send_bye(_now, id);
                    self.end_call(id, EndReason::Timeout);
                }
            }
        }
    }
}
