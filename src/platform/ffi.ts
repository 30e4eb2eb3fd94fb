import { createRequire } from 'node:module';
import { constants, endianness } from 'node:os';
import { SocketOptionError } from '../errors.js';

/** setsockopt/getsockopt on integers and byte buffers, reached through koffi. */
export interface SockoptFfi {
  readonly library: string;
  getInt(fd: number, level: number, name: number, label: string): number;
  setInt(fd: number, level: number, name: number, value: number, label: string): void;
  getBytes(fd: number, level: number, name: number, size: number, label: string): Buffer;
}

export interface FfiLoad {
  readonly ffi: SockoptFfi | null;
  readonly error: string | null;
}

type KoffiFunction = (...args: unknown[]) => number;
interface Koffi {
  load(path: string): { func(signature: string): KoffiFunction };
  errno(): number;
}

const LITTLE_ENDIAN = endianness() === 'LE';
const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, value]) => [value, name]));

export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
}

const loaded = new Map<string, FfiLoad>();

/**
 * Loads koffi and the C library on first use only, so importing lifeline costs nothing on a platform or runtime
 * where the FFI is never needed. A failure is remembered and reported by capabilities(), never thrown here.
 * LIFELINE_FFI=off turns the FFI off, to exercise the fallback paths.
 */
export function loadSockoptFfi(library: string): FfiLoad {
  const cached = loaded.get(library);
  if (cached) return cached;
  const result = tryLoad(library);
  loaded.set(library, result);
  return result;
}

function tryLoad(library: string): FfiLoad {
  if (process.env['LIFELINE_FFI'] === 'off') return { ffi: null, error: 'turned off by LIFELINE_FFI=off' };
  let koffi: Koffi;
  try {
    koffi = createRequire(import.meta.url)('koffi') as Koffi;
  } catch (error) {
    return { ffi: null, error: `koffi could not be loaded: ${(error as Error).message}` };
  }
  try {
    const lib = koffi.load(library);
    const setsockopt = lib.func('int setsockopt(int fd, int level, int name, const void *value, uint32_t length)');
    const getsockopt = lib.func(
      'int getsockopt(int fd, int level, int name, _Out_ void *value, _Inout_ uint32_t *length)',
    );
    return { ffi: makeFfi(library, koffi, setsockopt, getsockopt), error: null };
  } catch (error) {
    return { ffi: null, error: `${library} could not be loaded through koffi: ${(error as Error).message}` };
  }
}

function makeFfi(library: string, koffi: Koffi, setsockopt: KoffiFunction, getsockopt: KoffiFunction): SockoptFfi {
  const intBuffer = Buffer.alloc(4);
  const getBytes = (fd: number, level: number, name: number, size: number, label: string): Buffer => {
    const out = Buffer.alloc(size);
    const length = [size];
    if (getsockopt(fd, level, name, out, length) !== 0) {
      throw new SocketOptionError('getsockopt', label, errnoName(koffi.errno()));
    }
    return out.subarray(0, length[0]);
  };
  return {
    library,
    getBytes,
    getInt(fd, level, name, label) {
      const bytes = getBytes(fd, level, name, 4, label);
      if (bytes.length < 4) return bytes.readUInt8(0);
      return LITTLE_ENDIAN ? bytes.readInt32LE(0) : bytes.readInt32BE(0);
    },
    setInt(fd, level, name, value, label) {
      if (LITTLE_ENDIAN) intBuffer.writeInt32LE(value, 0);
      else intBuffer.writeInt32BE(value, 0);
      if (setsockopt(fd, level, name, intBuffer, 4) !== 0) {
        throw new SocketOptionError('setsockopt', label, errnoName(koffi.errno()));
      }
    },
  };
}
