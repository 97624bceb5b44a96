/*
 * recovery.h — rebuilds a shard's engine from its directory (FORMAT.md
 * "Recovery"): the newest usable snapshot, then every later record replayed
 * through engine_apply() with its logged timestamp. A torn tail is cut; corruption
 * and an unusable set of snapshots are refused with a message that names the file.
 *
 * Only the shard index and count of the caller's engine configuration are used: the
 * log carries the engine's settings (CONFIGURE records, and every snapshot), and
 * replay applies them where they were applied. wal_store_open (and the server) log a
 * CONFIGURE after recovery when the settings asked for differ from the recovered ones.
 */
#ifndef BOXOFFICE_WAL_RECOVERY_H
#define BOXOFFICE_WAL_RECOVERY_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "writer.h"

struct wal_recovery {
	uint64_t snapshot_lsn;	  /* 0: replayed from the first record */
	bool snapshot_fallback;	  /* the newest snapshot was damaged; an older one served */
	uint64_t records_replayed;
	uint64_t last_lsn;	  /* of the log after the cut */
	bool torn;		  /* a torn tail was cut */
	double seconds;		  /* wall time of the whole recovery */
	char message[768];	  /* what was found and done, or why recovery refused */
};

/*
 * Recovers. On success returns 0 with *engine and the position the writer continues
 * at. Returns -EUCLEAN when the log is corrupt or no usable snapshot can serve
 * (report->message says which file and where), or another -errno on I/O errors.
 * With `repair` false nothing is changed on disk (a torn tail is reported, not cut).
 */
int wal_recover(int dir_fd, const struct engine_config *config, bool repair,
		struct engine **engine, struct wal_position *position,
		struct wal_recovery *report);

#endif
