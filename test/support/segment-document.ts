// An empty change segment and its place: the smallest valid segment document, for tests of the
// document layer (forgeries, sealing) that need one of every kind.
export const EMPTY_SEGMENT = {
  collection: 'nightly',
  chain: '0123456789ABCDEF',
  afterLsn: '0/1000000',
  part: 0,
  slot: 'tidemark_nightly',
  source: { systemIdentifier: '1', database: 'shop', serverVersionNum: 150000 },
  endLsn: '0/2000000',
  openAtEnd: false,
  transactions: 0,
  changes: 0,
  payload: { codec: 'zstd', sha256: '0'.repeat(64), bytes: 0, data: '' },
};

export const EMPTY_SEGMENT_PLACE = { collection: 'nightly', chain: '0123456789ABCDEF', afterLsn: '0/1000000', part: 0 };
