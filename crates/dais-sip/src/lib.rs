//! SIP messages, transactions, dialogs, digest auth and SDP offer/answer for Dais (sans-IO).
