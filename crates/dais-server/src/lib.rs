//! daisd library: the server shell around the Dais core.
