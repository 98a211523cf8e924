/*
 * A reader thread for small host files: the writer submits whole-file reads ahead of need and
 * collects each when it gets to that file, by then usually read. mksquashfs has a reader thread
 * for the same reason. On a tree of small files the open, read and close of each file were about
 * a fifth of the main thread's time, and the main thread was the whole run's critical path; here
 * they run on the other core. No threadpool job, no callback and no promise per file: on
 * small-20000 those round trips used to cost more than the reads themselves (read-file.c).
 *
 *   createReadQueue(): an External, the queue of this JavaScript environment. Its thread starts
 *     at the first submission and is stopped when the environment ends.
 *   readQueueSubmit(queue, path: Uint8Array, into: Uint8Array, expected: number): a ticket (>= 0),
 *     or -1 when QUEUE_SLOTS reads are still uncollected (the caller reads some other way).
 *     `into` is kept alive, and must not be touched, until the ticket is collected.
 *   readQueueCollect(queue, ticket): that read's byte count, once it is done; throws an fs-style
 *     Error (`code`, `syscall`) when it failed. A read the thread has not begun is done by the
 *     caller itself, at once. Every ticket must be collected, once.
 *
 * The thread reads one file at a time, in submission order, by read-file.c's rule (read_one).
 * The thread is woken only when WAKE_BATCH reads wait or the caller waits for one: a wake-up per
 * file would cost the submitting thread a system call per file.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <node_api.h>

#include "napi-bytes.h"
#include "read-file.h"
#include "read-queue.h"

/* Reads submitted and not yet collected, at most. The writer keeps well under 100 ahead. */
#define QUEUE_SLOTS 1024
/* Reads that must wait before a sleeping reader is woken (unless the caller waits for one). */
#define WAKE_BATCH 16

enum { SLOT_FREE, SLOT_SUBMITTED, SLOT_READING, SLOT_READ };

typedef struct {
  read_item item;
  napi_ref into_ref;
  uint64_t ticket;
  int state;
} queue_slot;

typedef struct {
  pthread_mutex_t lock;
  pthread_cond_t work; /* the reader waits here for submissions */
  pthread_cond_t done; /* the caller waits here for a read */
  pthread_t thread;
  int started, stopping, reader_idle, caller_waiting;
  uint64_t submitted; /* tickets handed out: 0 .. submitted - 1 */
  uint64_t claimed;   /* tickets the reader has taken or passed: 0 .. claimed - 1 */
  napi_env env;
  queue_slot slots[QUEUE_SLOTS];
} read_queue;

static void *reader_main(void *arg) {
  read_queue *q = arg;
  pthread_mutex_lock(&q->lock);
  for (;;) {
    while (q->claimed == q->submitted && !q->stopping) {
      q->reader_idle = 1;
      pthread_cond_wait(&q->work, &q->lock);
      q->reader_idle = 0;
    }
    if (q->stopping) break;
    uint64_t ticket = q->claimed++;
    queue_slot *slot = &q->slots[ticket % QUEUE_SLOTS];
    /* Taken by the caller, which got to it first (see js_collect), and maybe collected. */
    if (slot->state != SLOT_SUBMITTED || slot->ticket != ticket) continue;
    slot->state = SLOT_READING;
    /* The submitter wrote the slot before it published the ticket, under the lock, and leaves it
     * alone until it is collected: the read itself needs no lock. */
    pthread_mutex_unlock(&q->lock);
    read_one(&slot->item);
    pthread_mutex_lock(&q->lock);
    slot->state = SLOT_READ;
    if (q->caller_waiting) pthread_cond_signal(&q->done);
  }
  pthread_mutex_unlock(&q->lock);
  return NULL;
}

/* Stops the reader (reads not yet started are dropped); their slots are left for free_queue. */
static void stop_reader(void *arg) {
  read_queue *q = arg;
  if (!q->started) return;
  pthread_mutex_lock(&q->lock);
  q->stopping = 1;
  pthread_cond_signal(&q->work);
  pthread_mutex_unlock(&q->lock);
  pthread_join(q->thread, NULL);
  q->started = 0;
}

static void finalize_queue(napi_env env, void *data, void *hint) {
  (void)hint;
  read_queue *q = data;
  napi_remove_env_cleanup_hook(env, stop_reader, q);
  stop_reader(q);
  for (int i = 0; i < QUEUE_SLOTS; i++) {
    if (q->slots[i].state == SLOT_FREE) continue;
    free(q->slots[i].item.path);
    napi_delete_reference(env, q->slots[i].into_ref);
  }
  pthread_cond_destroy(&q->work);
  pthread_cond_destroy(&q->done);
  pthread_mutex_destroy(&q->lock);
  free(q);
}

static napi_value js_create(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  read_queue *q = calloc(1, sizeof *q);
  if (!q) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  pthread_mutex_init(&q->lock, NULL);
  pthread_cond_init(&q->work, NULL);
  pthread_cond_init(&q->done, NULL);
  q->env = env;
  if (napi_create_external(env, q, finalize_queue, NULL, &result) != napi_ok) {
    free(q);
    return NULL;
  }
  /* The environment may end (a worker's, or the process at exit) without collecting the
   * External: the thread must not outlive it. */
  napi_add_env_cleanup_hook(env, stop_reader, q);
  return result;
}

static read_queue *get_queue(napi_env env, napi_value v) {
  void *data = NULL;
  napi_valuetype type;
  if (napi_typeof(env, v, &type) != napi_ok || type != napi_external ||
      napi_get_value_external(env, v, &data) != napi_ok)
    return NULL;
  read_queue *q = data;
  return q && q->env == env ? q : NULL;
}

static napi_value number(napi_env env, double value) {
  napi_value v;
  return napi_create_double(env, value, &v) == napi_ok ? v : NULL;
}

static napi_value js_submit(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  void *path_data, *into;
  size_t path_len, capacity;
  double expected;
  read_queue *q = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4 ||
      !(q = get_queue(env, argv[0])) || !napi_uint8_bytes(env, argv[1], &path_data, &path_len) ||
      !napi_uint8_bytes(env, argv[2], &into, &capacity) ||
      napi_get_value_double(env, argv[3], &expected) != napi_ok ||
      memchr(path_data, 0, path_len) != NULL) {
    napi_throw_type_error(env, NULL,
                          "readQueueSubmit(queue, path: Uint8Array, into: Uint8Array, "
                          "expected: number)");
    return NULL;
  }
  if (!q->started) {
    if (pthread_create(&q->thread, NULL, reader_main, q) != 0) return number(env, -1);
    q->started = 1;
  }
  pthread_mutex_lock(&q->lock);
  queue_slot *slot = &q->slots[q->submitted % QUEUE_SLOTS];
  int free_slot = slot->state == SLOT_FREE;
  pthread_mutex_unlock(&q->lock);
  if (!free_slot) return number(env, -1);
  /* Only this thread writes a free slot, and the reader reads it only once it is published. */
  char *path = malloc(path_len + 1);
  if (!path) return number(env, -1);
  memcpy(path, path_data, path_len);
  path[path_len] = 0;
  if (napi_create_reference(env, argv[2], 1, &slot->into_ref) != napi_ok) {
    free(path);
    return number(env, -1);
  }
  slot->item = (read_item){
      .path = path,
      .into = into,
      .capacity = capacity,
      .expected = expected < 0 ? 0 : (size_t)expected,
  };
  pthread_mutex_lock(&q->lock);
  uint64_t ticket = q->submitted++;
  slot->ticket = ticket;
  slot->state = SLOT_SUBMITTED;
  if (q->reader_idle && q->submitted - q->claimed >= WAKE_BATCH) pthread_cond_signal(&q->work);
  pthread_mutex_unlock(&q->lock);
  return number(env, (double)ticket);
}

static napi_value js_collect(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  double wanted;
  read_queue *q = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      !(q = get_queue(env, argv[0])) || napi_get_value_double(env, argv[1], &wanted) != napi_ok ||
      wanted < 0 || wanted >= 9007199254740992.0)
    goto usage;
  uint64_t ticket = (uint64_t)wanted;
  queue_slot *slot = &q->slots[ticket % QUEUE_SLOTS];
  pthread_mutex_lock(&q->lock);
  if ((double)ticket != wanted || slot->state == SLOT_FREE || slot->ticket != ticket) {
    pthread_mutex_unlock(&q->lock);
    goto usage;
  }
  if (slot->state == SLOT_SUBMITTED) {
    /* The reader has not got to it (it is behind, or asleep with fewer than WAKE_BATCH reads
     * waiting): read it here rather than wait, and wake the reader for the ones after it. On a
     * 2-core machine the reader shares its core with V8's compiler threads, and waiting for it
     * lost most of what it saves. */
    slot->state = SLOT_READING;
    if (q->reader_idle && q->submitted - q->claimed > 1) pthread_cond_signal(&q->work);
    pthread_mutex_unlock(&q->lock);
    read_one(&slot->item);
    pthread_mutex_lock(&q->lock);
  } else if (slot->state == SLOT_READING) {
    q->caller_waiting = 1;
    while (slot->state != SLOT_READ) pthread_cond_wait(&q->done, &q->lock);
    q->caller_waiting = 0;
  }
  read_item item = slot->item;
  napi_ref into_ref = slot->into_ref;
  slot->state = SLOT_FREE;
  pthread_mutex_unlock(&q->lock);
  free(item.path);
  napi_delete_reference(env, into_ref);
  if (item.error) {
    throw_errno(env, item.error, item.syscall);
    return NULL;
  }
  return number(env, (double)item.got);
usage:
  napi_throw_type_error(env, NULL, "readQueueCollect(queue, ticket): not a ticket to collect");
  return NULL;
}

int read_queue_register(napi_env env, napi_value exports) {
  return napi_export_function(env, exports, "createReadQueue", js_create) &&
         napi_export_function(env, exports, "readQueueSubmit", js_submit) &&
         napi_export_function(env, exports, "readQueueCollect", js_collect);
}
