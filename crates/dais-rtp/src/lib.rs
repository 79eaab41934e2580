//! Zero-copy RTP views, RTCP, stream statistics and keyframe detection for Dais (sans-IO).
