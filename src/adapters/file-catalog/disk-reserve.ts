// Space kept for lease writes on a full disk: gc must be able to take its lease to free space,
// so the file catalog keeps a reserve file (`leases/.reserve`, 1 MiB of zeros) that a lease write
// deletes when the disk is full, and that is made again once there is room (FORMAT.md, "Catalog").
import { mkdir, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** 256 versions of 4 KiB blocks. */
const RESERVE_BYTES = 1024 * 1024;

export class DiskReserve {
  constructor(private readonly path: string) {}

  /** Makes the reserve if it is missing; best effort (a full disk simply has none yet). */
  async keep(): Promise<void> {
    if (
      await stat(this.path).then(
        () => true,
        () => false,
      )
    )
      return;
    await mkdir(dirname(this.path), { recursive: true })
      .then(() => writeFile(this.path, Buffer.alloc(RESERVE_BYTES), { flag: 'wx' }))
      .catch(async () => {
        await unlink(this.path).catch(() => undefined); // never leave a partial reserve that looks whole
      });
  }

  /** Frees the reserve for a lease write; false when there is none left. */
  use(): Promise<boolean> {
    return unlink(this.path).then(
      () => true,
      () => false,
    );
  }
}
