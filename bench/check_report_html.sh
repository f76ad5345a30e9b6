#!/usr/bin/env bash
# Renders a run's HTML report in headless Chromium and checks it.
#
#   bench/check_report_html.sh RUN_DIR [NAME]
#
# NAME defaults to the prefix of the single *_report.html in RUN_DIR. Writes
# RUN_DIR/NAME_report_screenshot.png (window WIDTHxHEIGHT, default 1200x2400, set
# WINDOW=1200,6000 for more of the page) and fails (exit 1) when:
# - chromium exits non-zero or reports an error other than the known harmless
#   D-Bus noise of a container (no system bus);
# - the screenshot is missing, undecodable or nearly uniform (< 50 colours);
# - an inlined figure is not a decodable PNG, or the report references any
#   external resource (it must be self-contained).
set -euo pipefail

dir=${1:?usage: check_report_html.sh RUN_DIR [NAME]}
name=${2:-}
if [[ -z $name ]]; then
    mapfile -t found < <(cd "$dir" && ls -- *_report.html 2>/dev/null)
    if [[ ${#found[@]} -ne 1 ]]; then
        echo "expected one *_report.html in $dir, found ${#found[@]}; pass NAME" >&2
        exit 2
    fi
    name=${found[0]%_report.html}
fi
html=$(cd "$dir" && pwd)/${name}_report.html
shot=$(cd "$dir" && pwd)/${name}_report_screenshot.png
[[ -f $html ]] || { echo "no $html" >&2; exit 2; }
command -v chromium >/dev/null || { echo "chromium not installed (apt-get install -y chromium)" >&2; exit 2; }

profile=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$profile" "$log"' EXIT
rm -f "$shot"
status=0
timeout 180 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --screenshot="$shot" --window-size="${WINDOW:-1200,2400}" \
    "file://$html" >"$log" 2>&1 || status=$?
if [[ $status -ne 0 ]]; then
    echo "FAIL: chromium exited with $status" >&2
    cat "$log" >&2
    exit 1
fi
# Chromium logs errors as "[pid:tid:date:ERROR:file.cc(line)] ..."; page problems show
# up as ERROR lines or CONSOLE messages. Only the container's missing D-Bus is expected.
unexpected=$(grep -E ':ERROR:|CONSOLE|Uncaught' "$log" | grep -vE 'ERROR:dbus/' || true)
if [[ -n $unexpected ]]; then
    echo "FAIL: chromium reported errors:" >&2
    echo "$unexpected" >&2
    exit 1
fi

python3 - "$html" "$shot" <<'EOF'
import base64, re, struct, sys, zlib

def decode_png(data):
    """Pixels of an 8-bit RGB/RGBA PNG (non-interlaced), as a list of row byte strings."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, hdr = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if zlib.crc32(kind + body) != struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]:
            raise ValueError("bad CRC")
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    w, h, depth, ctype, _, _, interlace = hdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        raise ValueError(f"unsupported PNG type {hdr}")
    bpp = 3 if ctype == 2 else 4
    raw, stride = zlib.decompress(idat), w * bpp
    rows, prev = [], bytearray(stride)
    for r in range(h):
        f, line = raw[r * (stride + 1)], bytearray(raw[r * (stride + 1) + 1:(r + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows

html_path, shot_path = sys.argv[1], sys.argv[2]
html = open(html_path, encoding="utf-8").read()
external = re.findall(r'(?:src|href)="(?!data:)([^"]+)"', html)
if external:
    sys.exit(f"FAIL: the report references external resources: {external[:3]}")
figs = re.findall(r'<figure id="([^"]+)">.*?src="data:image/png;base64,([^"]+)"', html)
if not figs:
    sys.exit("FAIL: no inlined figure in the report")
for key, b64 in figs:
    try:
        w, h, _, _ = decode_png(base64.b64decode(b64))
    except Exception as e:
        sys.exit(f"FAIL: inlined figure {key} is not a valid PNG ({e})")
    print(f"figure {key}: {w}x{h} PNG inlined")
w, h, bpp, rows = decode_png(open(shot_path, "rb").read())
colours = {row[i:i + 3] for row in rows[::4] for i in range(0, len(row), 3 * bpp)}
if len(colours) < 50:
    sys.exit(f"FAIL: screenshot {w}x{h} nearly uniform ({len(colours)} colours)")
print(f"screenshot {shot_path}: {w}x{h}, {len(colours)} colours (sampled)")
EOF
echo "OK: $html renders in $(chromium --version 2>/dev/null | tail -1)"
