// One SVG flame graph per value of the first label (per route), stacked top to bottom. The layout is d3-hierarchy's
// partition (the icicle layout flame graph libraries use), turned over so the root is at the bottom; each frame is
// a rectangle with its name and a <title> tooltip (samples, share).
import { hierarchy, partition } from 'd3-hierarchy';
import { type CpuProfile, NO_VALUE } from './profile.js';

interface Node {
  name: string;
  value: number;
  children: Map<string, Node>;
}

const WIDTH = 1200;
const ROW = 16;
const GAP = 40;

/** XML text: markup escaped, and control characters (which XML 1.0 forbids; values come from any process) shown as \xNN. */
const escape = (text: string): string =>
  [...text]
    .map((c) => {
      const code = c.charCodeAt(0);
      if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return `\\x${code.toString(16).padStart(2, '0')}`;
      return (
        ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' } as Record<string, string>)[c] ?? c
      );
    })
    .join('');

/** Warm colours varied by name, the usual flame graph palette, stable for one name. */
function colour(name: string): string {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (Math.imul(h, 31) + name.charCodeAt(i)) >>> 0;
  return `rgb(${205 + (h % 50)},${80 + ((h >> 8) % 130)},${(h >> 16) % 55})`;
}

function tree(profile: CpuProfile, value: string): Node {
  const label = profile.labelNames[0];
  const root: Node = { name: value, value: 0, children: new Map() };
  for (const s of profile.samples) {
    if ((label === undefined ? '' : (s.labels[label] ?? NO_VALUE)) !== value) continue;
    let node = root;
    for (const frame of [...s.frames].reverse()) {
      let child = node.children.get(frame.name);
      if (!child) node.children.set(frame.name, (child = { name: frame.name, value: 0, children: new Map() }));
      node = child;
      node.value += s.count;
    }
    root.value += s.count;
  }
  return root;
}

/** The flame graphs of `profile`, one per value of its first label, heaviest first. */
export function toSvg(profile: CpuProfile): string {
  const label = profile.labelNames[0];
  const totals = new Map<string, number>();
  for (const s of profile.samples) {
    const v = label === undefined ? '' : (s.labels[label] ?? NO_VALUE);
    totals.set(v, (totals.get(v) ?? 0) + s.count);
  }
  const all = [...totals.values()].reduce((a, b) => a + b, 0);
  const parts: string[] = [];
  let y = 0;
  for (const [value] of [...totals].sort((a, b) => b[1] - a[1])) {
    const root = hierarchy(tree(profile, value), (n) => [...n.children.values()]).sum(
      (n) => n.value - [...n.children.values()].reduce((a, c) => a + c.value, 0),
    );
    const depth = root.height + 1;
    const layout = partition<Node>().size([WIDTH, depth * ROW])(root);
    const share = all > 0 ? ((100 * root.value!) / all).toFixed(1) : '0';
    const title = `${label ?? 'all'} = ${value}: ${root.value} samples, ${share}% of the profile`;
    parts.push(`<text x="4" y="${y + 20}" class="title">${escape(title)}</text>`);
    y += 28;
    const height = depth * ROW;
    for (const node of layout.descendants()) {
      const w = node.x1 - node.x0;
      if (w < 0.5) continue;
      const top = y + height - node.y1; // turned over: the root at the bottom
      const pct = ((100 * node.value!) / root.value!).toFixed(1);
      const name = node.depth === 0 ? `${label ?? 'all'} = ${value}` : node.data.name;
      const text = w > 30 ? escape(name.slice(0, Math.floor(w / 7))) : '';
      parts.push(
        `<g><title>${escape(name)} (${node.value} samples, ${pct}%)</title>` +
          `<rect x="${node.x0.toFixed(1)}" y="${top}" width="${w.toFixed(1)}" height="${ROW - 1}" fill="${node.depth === 0 ? '#bbb' : colour(name)}"/>` +
          `<text x="${(node.x0 + 3).toFixed(1)}" y="${top + ROW - 4}">${text}</text></g>`,
      );
    }
    y += height + GAP;
  }
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${Math.max(y, 40)}" font-family="monospace" font-size="11">\n` +
    `<style>.title { font-size: 14px; font-weight: bold }</style>\n` +
    parts.join('\n') +
    '\n</svg>\n'
  );
}
