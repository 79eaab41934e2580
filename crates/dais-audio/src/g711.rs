//! G.711 μ-law and A-law (ITU-T G.711 §2, Tables 1a/2a), table-driven, pure Rust.
//!
//! Decoding is a 256-entry table per law. Encoding uses a table indexed by the input's top bits
//! (14 bits for μ-law, 13 bits for A-law: exactly the resolution the laws quantise from, so the
//! table is the reference algorithm, not an approximation). Samples are 16-bit linear PCM; the
//! ITU tables' 14-bit (μ) and 13-bit (A) magnitudes are those values shifted right by 2 and 3.

/// μ-law bias (33 in the 14-bit domain, stated at 16 bits).
const ULAW_BIAS: i32 = 0x84;
/// Largest μ-law magnitude before biasing, in the 14-bit domain.
const ULAW_CLIP: i32 = 8159;

const fn ulaw_decode_one(byte: u8) -> i16 {
    let u = !byte;
    let mut t = (((u & 0x0f) as i32) << 3) + ULAW_BIAS;
    t <<= (u & 0x70) >> 4;
    (if u & 0x80 != 0 {
        ULAW_BIAS - t
    } else {
        t - ULAW_BIAS
    }) as i16
}

const fn alaw_decode_one(byte: u8) -> i16 {
    let a = byte ^ 0x55;
    let mut t = ((a & 0x0f) as i32) << 4;
    let seg = (a & 0x70) >> 4;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= seg - 1;
        }
    }
    (if a & 0x80 != 0 { t } else { -t }) as i16
}

/// Segment of a magnitude given the segment end points (the reference `search`).
const fn segment(val: i32, ends: &[i32; 8]) -> usize {
    let mut i = 0;
    while i < 8 {
        if val <= ends[i] {
            return i;
        }
        i += 1;
    }
    8
}

const ULAW_SEG_END: [i32; 8] = [0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff];
const ALAW_SEG_END: [i32; 8] = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];

/// μ-law encode of a 14-bit sample (the 16-bit sample shifted right by 2).
const fn ulaw_encode_14(pcm14: i32) -> u8 {
    let (mut v, mask): (i32, i32) = if pcm14 < 0 {
        (-pcm14, 0x7f)
    } else {
        (pcm14, 0xff)
    };
    if v > ULAW_CLIP {
        v = ULAW_CLIP;
    }
    v += ULAW_BIAS >> 2;
    let seg = segment(v, &ULAW_SEG_END);
    if seg >= 8 {
        return (0x7f ^ mask) as u8;
    }
    let u = ((seg as i32) << 4) | ((v >> (seg + 1)) & 0x0f);
    (u ^ mask) as u8
}

/// A-law encode of a 13-bit sample (the 16-bit sample shifted right by 3).
const fn alaw_encode_13(pcm13: i32) -> u8 {
    let (v, mask): (i32, i32) = if pcm13 >= 0 {
        (pcm13, 0xd5)
    } else {
        (-pcm13 - 1, 0x55)
    };
    let seg = segment(v, &ALAW_SEG_END);
    if seg >= 8 {
        return (0x7f ^ mask) as u8;
    }
    let mut a = (seg as i32) << 4;
    if seg < 2 {
        a |= (v >> 1) & 0x0f;
    } else {
        a |= (v >> seg) & 0x0f;
    }
    (a ^ mask) as u8
}

const fn decode_table(alaw: bool) -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = if alaw {
            alaw_decode_one(i as u8)
        } else {
            ulaw_decode_one(i as u8)
        };
        i += 1;
    }
    t
}

const fn ulaw_encode_table() -> [u8; 1 << 14] {
    let mut t = [0u8; 1 << 14];
    let mut i = 0;
    while i < (1 << 14) {
        // Index is the 14-bit two's-complement sample.
        let s = ((i as i32) << 18) >> 18;
        t[i] = ulaw_encode_14(s);
        i += 1;
    }
    t
}

const fn alaw_encode_table() -> [u8; 1 << 13] {
    let mut t = [0u8; 1 << 13];
    let mut i = 0;
    while i < (1 << 13) {
        let s = ((i as i32) << 19) >> 19;
        t[i] = alaw_encode_13(s);
        i += 1;
    }
    t
}

static ULAW_DECODE: [i16; 256] = decode_table(false);
static ALAW_DECODE: [i16; 256] = decode_table(true);
static ULAW_ENCODE: [u8; 1 << 14] = ulaw_encode_table();
static ALAW_ENCODE: [u8; 1 << 13] = alaw_encode_table();

/// Decodes one μ-law byte to 16-bit linear PCM.
#[inline]
pub fn ulaw_decode(byte: u8) -> i16 {
    ULAW_DECODE[byte as usize]
}

/// Decodes one A-law byte to 16-bit linear PCM.
#[inline]
pub fn alaw_decode(byte: u8) -> i16 {
    ALAW_DECODE[byte as usize]
}

/// Encodes one 16-bit linear sample to μ-law.
#[inline]
pub fn ulaw_encode(sample: i16) -> u8 {
    ULAW_ENCODE[((sample as u16) >> 2) as usize]
}

/// Encodes one 16-bit linear sample to A-law.
#[inline]
pub fn alaw_encode(sample: i16) -> u8 {
    ALAW_ENCODE[((sample as u16) >> 3) as usize]
}

/// The byte that encodes silence: μ-law 0xff, A-law 0xd5.
pub(crate) fn silence_byte(alaw: bool) -> u8 {
    if alaw { 0xd5 } else { 0xff }
}

#[cfg(test)]
mod tests {
    use super::*;

    // ITU-T G.711 Table 2a (μ-law): (character as sent, decoder output in the 14-bit domain).
    // μ-law characters are sent with all bits inverted.
    const ULAW_REF: &[(u8, i32)] = &[
        (0xff, 0),
        (0xfe, 2),
        (0xf0, 30),
        (0xef, 33),
        (0xe0, 93),
        (0xdf, 99),
        (0x80, 8031),
        (0x00, -8031),
        (0x7f, 0),
        (0x7e, -2),
    ];

    // ITU-T G.711 Table 1a (A-law): decoder output in the 13-bit domain. Characters are sent
    // with the even bits inverted (XOR 0x55).
    const ALAW_REF: &[(u8, i32)] = &[
        (0xd5, 1),
        (0xd4, 3),
        (0xda, 31),
        (0xc5, 33),
        (0xca, 63),
        (0xf5, 66),
        (0xaa, 4032),
        (0x55, -1),
        (0x2a, -4032),
    ];

    #[test]
    fn decoder_outputs_match_the_itu_tables() {
        for &(c, v) in ULAW_REF {
            assert_eq!(ulaw_decode(c) as i32, v * 4, "μ-law {c:#04x}");
        }
        for &(c, v) in ALAW_REF {
            assert_eq!(alaw_decode(c) as i32, v * 8, "A-law {c:#04x}");
        }
    }

    #[test]
    fn encoder_decision_values_match_the_itu_tables() {
        // μ-law: 14-bit input 0..1 -> 0xff, 1..3 -> 0xfe, segment 1 starts at 31 (code 0xef).
        assert_eq!(ulaw_encode(0), 0xff);
        assert_eq!(ulaw_encode(3), 0xff);
        assert_eq!(ulaw_encode(4), 0xfe);
        assert_eq!(ulaw_encode(2 * 4), 0xfe);
        assert_eq!(ulaw_encode(31 * 4), 0xef);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        // A-law: 13-bit input 0..2 -> 0xd5; 32 starts segment 1 (code 0xc5); negative mirrors.
        assert_eq!(alaw_encode(0), 0xd5);
        assert_eq!(alaw_encode(2 * 8), 0xd4);
        assert_eq!(alaw_encode(32 * 8), 0xc5);
        assert_eq!(alaw_encode(-8), 0x55);
        assert_eq!(alaw_encode(i16::MAX), 0xaa);
        assert_eq!(alaw_encode(i16::MIN), 0x2a);
    }

    #[test]
    fn every_code_round_trips() {
        for c in 0..=255u8 {
            // Negative zero (0x7f) is re-encoded as positive zero.
            let expect_u = if c == 0x7f { 0xff } else { c };
            assert_eq!(ulaw_encode(ulaw_decode(c)), expect_u, "μ {c:#04x}");
            assert_eq!(alaw_encode(alaw_decode(c)), c, "A {c:#04x}");
        }
    }

    #[test]
    fn encoders_are_monotonic_and_error_is_bounded() {
        let mut prev_u = i16::MIN;
        let mut prev_a = i16::MIN;
        for s in i16::MIN..=i16::MAX {
            let du = ulaw_decode(ulaw_encode(s));
            let da = alaw_decode(alaw_encode(s));
            assert!(du >= prev_u && da >= prev_a, "monotonic at {s}");
            prev_u = du;
            prev_a = da;
            // Quantisation error at most half the largest step (segment 7: 1024 μ, 1024 A).
            assert!((du as i32 - s as i32).abs() <= 1024 + 4, "μ error at {s}");
            assert!((da as i32 - s as i32).abs() <= 1024, "A error at {s}");
        }
    }
}
