//! A minimal PNG encoder (8-bit RGB, zlib through flate2). Figures are rendered
//! into memory and encoded here, so the bytes can be written atomically and
//! inlined in the HTML report without going through an image library.

use std::io::Write;

use flate2::write::ZlibEncoder;
use flate2::{Compression, Crc};

/// Encodes a `width × height` RGB buffer (row-major, 3 bytes a pixel) as PNG.
/// Each row uses the "Up" filter (the first the "None" filter): figures repeat
/// vertically a lot, which this makes cheap to compress.
///
/// Panics if `rgb.len() != 3 · width · height` (a programming error).
pub fn encode_rgb(width: u32, height: u32, rgb: &[u8]) -> Vec<u8> {
    let stride = 3 * width as usize;
    assert_eq!(rgb.len(), stride * height as usize, "RGB buffer size");
    let mut raw = Vec::with_capacity((stride + 1) * height as usize);
    for r in 0..height as usize {
        let row = &rgb[r * stride..(r + 1) * stride];
        if r == 0 {
            raw.push(0);
            raw.extend_from_slice(row);
        } else {
            raw.push(2);
            let up = &rgb[(r - 1) * stride..r * stride];
            raw.extend(row.iter().zip(up).map(|(&x, &u)| x.wrapping_sub(u)));
        }
    }
    let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
    z.write_all(&raw).expect("writing to memory");
    let idat = z.finish().expect("writing to memory");

    let mut out = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    // Bit depth 8, colour type 2 (RGB), deflate, adaptive filtering, no interlace.
    ihdr.extend([8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &idat);
    chunk(&mut out, b"IEND", &[]);
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend((data.len() as u32).to_be_bytes());
    out.extend(kind);
    out.extend(data);
    // PNG's CRC is the CRC-32 of gzip (flate2's Crc) over type and data.
    let mut crc = Crc::new();
    crc.update(kind);
    crc.update(data);
    out.extend(crc.sum().to_be_bytes());
}
