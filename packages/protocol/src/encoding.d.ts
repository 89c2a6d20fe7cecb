// The WHATWG Encoding API, global in Node.js and browsers. Declared here because this package builds without
// Node's types (it must not import node: modules) and without the DOM library.
declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
declare class TextDecoder {
  decode(input?: Uint8Array): string;
}
