// The probe engine's I/O thread (Node-API addon): one UDP socket per path, bound to the path's source
// address; packets built by the JavaScript prober are queued with the monotonic time they are due,
// and this thread sends each on time, reads T1 right before the send call, and reads every reply's T4
// from the kernel's receive timestamp (SO_TIMESTAMPNS). What happened is kept in a record list that the
// prober drains once per snapshot interval.
//
// Why a native thread: in JavaScript every send and every reply is a wake-up of a V8 isolate (a worker
// thread, ~12 MB on its own), ~150 µs of CPU each on the lab's VMs. Here a wake-up is a few system calls,
// the main thread wakes once per snapshot interval whatever the probe rate, and T4 is the time the
// datagram reached the socket, not the time a JavaScript callback got to run.
//
// Mechanism only: no STAMP here. Threading: the I/O thread and the JavaScript thread share the channel
// table and the record list under one mutex; the I/O thread holds it only while it handles a batch of
// events (a few system calls), and the JavaScript thread only for a table or list operation.
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_CHANNELS 256
// Replies larger than this arrive truncated, and the STAMP decoder then rejects them.
#define MAX_DATAGRAM 2048
// Records kept between drains; beyond this (nobody draining for minutes) the newest are dropped and
// counted, so a stalled main thread cannot grow the process without bound.
#define MAX_RECORDS 65536
#define MAX_QUEUED_PER_CHANNEL 4096

enum record_kind { RECORD_SENT = 0, RECORD_SEND_ERROR = 1, RECORD_REPLY = 2, RECORD_STRAY = 3 };

typedef struct packet {
  struct packet *next;
  uint64_t due_ns;
  uint32_t seq;
  uint32_t len;
  uint8_t data[];
} packet_t;

typedef struct {
  uint32_t id;  // 0: free slot
  int fd;
  struct sockaddr_storage remote;
  socklen_t remote_len;
  packet_t *head, *tail;  // in due order
  uint32_t queued;
  // Index of this channel's stray record among the records not yet drained; -1 when there is none.
  int64_t stray_record;
} channel_t;

typedef struct {
  uint8_t kind;
  uint32_t channel;
  uint32_t seq;
  int err;
  uint64_t ns;
  uint32_t len;
  uint8_t *payload;  // a reply's datagram; a stray record's source as text ("address:port")
  uint32_t count;    // a stray record: datagrams from strangers since the last drain
} record_t;

typedef struct {
  pthread_mutex_t lock;
  pthread_t thread;
  int thread_started;
  int epfd, wakefd, timerfd;
  int stopping;
  int destroyed;
  int niceness;  // INT32_MIN: leave the priority alone
  uint64_t armed_ns;  // the deadline the timer is set for; 0 = disarmed
  uint32_t next_id;
  channel_t channels[MAX_CHANNELS];
  record_t *records;
  size_t nrecords;
  uint64_t dropped;
} io_t;

static uint64_t clock_ns(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void wake_thread(io_t *io) {
  uint64_t one = 1;
  // Fails only when the eventfd's counter is full, which means the thread has a wake-up coming anyway.
  if (write(io->wakefd, &one, sizeof one) < 0) return;
}

static channel_t *find_channel(io_t *io, uint32_t id) {
  for (int i = 0; i < MAX_CHANNELS; i++)
    if (io->channels[i].id == id) return &io->channels[i];
  return NULL;
}

// Called with the lock held.
static void add_record(io_t *io, record_t r) {
  if (io->nrecords >= MAX_RECORDS) {
    io->dropped++;
    free(r.payload);
    return;
  }
  io->records[io->nrecords++] = r;
}

static void free_queue(channel_t *ch) {
  packet_t *p = ch->head;
  while (p) {
    packet_t *next = p->next;
    free(p);
    p = next;
  }
  ch->head = ch->tail = NULL;
  ch->queued = 0;
}

// Called with the lock held: sends every packet that is due, in due order per channel.
static void send_due(io_t *io) {
  for (int i = 0; i < MAX_CHANNELS; i++) {
    channel_t *ch = &io->channels[i];
    if (ch->id == 0) continue;
    while (ch->head && ch->head->due_ns <= clock_ns(CLOCK_MONOTONIC)) {
      packet_t *p = ch->head;
      // T1: as late as possible, right before the send call.
      uint64_t t1 = clock_ns(CLOCK_MONOTONIC);
      ssize_t n = sendto(ch->fd, p->data, p->len, 0, (struct sockaddr *)&ch->remote, ch->remote_len);
      record_t r = {.channel = ch->id, .seq = p->seq, .ns = t1};
      if (n < 0) {
        r.kind = RECORD_SEND_ERROR;
        r.err = errno;
      } else {
        r.kind = RECORD_SENT;
      }
      add_record(io, r);
      ch->head = p->next;
      if (!ch->head) ch->tail = NULL;
      ch->queued--;
      free(p);
    }
  }
}

static int same_address(const struct sockaddr_storage *a, socklen_t len, const struct sockaddr_storage *b) {
  if (a->ss_family != b->ss_family) return 0;
  if (a->ss_family == AF_INET) {
    const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
    return len >= sizeof *x && x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
  return len >= sizeof *x && x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
}

// "address:port" ("[address]:port" for IPv6) of a datagram's source, malloc'd; NULL if out of memory.
static char *format_source(const struct sockaddr_storage *from) {
  char address[INET6_ADDRSTRLEN] = "?";
  unsigned port = 0;
  int v6 = from->ss_family == AF_INET6;
  if (v6) {
    const struct sockaddr_in6 *a = (const void *)from;
    inet_ntop(AF_INET6, &a->sin6_addr, address, sizeof address);
    port = ntohs(a->sin6_port);
  } else if (from->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const void *)from;
    inet_ntop(AF_INET, &a->sin_addr, address, sizeof address);
    port = ntohs(a->sin_port);
  }
  char *text = malloc(INET6_ADDRSTRLEN + 10);
  if (text) snprintf(text, INET6_ADDRSTRLEN + 10, v6 ? "[%s]:%u" : "%s:%u", address, port);
  return text;
}

// Called with the lock held: a datagram on the channel's port from someone other than its reflector.
static void note_stray(io_t *io, channel_t *ch, const struct sockaddr_storage *from) {
  char *source = format_source(from);
  if (!source) {
    io->dropped++;
    return;
  }
  int64_t at = ch->stray_record;
  if (at >= 0 && (size_t)at < io->nrecords && io->records[at].kind == RECORD_STRAY && io->records[at].channel == ch->id) {
    record_t *r = &io->records[at];
    free(r->payload);
    r->payload = (uint8_t *)source;
    r->ns = clock_ns(CLOCK_MONOTONIC);
    r->count++;
    return;
  }
  if (io->nrecords < MAX_RECORDS) ch->stray_record = (int64_t)io->nrecords;
  add_record(io, (record_t){.kind = RECORD_STRAY, .channel = ch->id, .ns = clock_ns(CLOCK_MONOTONIC), .payload = (uint8_t *)source, .count = 1});
}

// Called with the lock held: reads every datagram waiting on the channel's socket.
static void receive(io_t *io, channel_t *ch) {
  uint8_t buf[MAX_DATAGRAM];
  union {
    char raw[CMSG_SPACE(sizeof(struct timespec))];
    struct cmsghdr align;
  } control;
  // At most this many per wake-up, so a flood on one socket cannot starve the others or the sends.
  for (int i = 0; i < 64; i++) {
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
    struct sockaddr_storage from;
    struct msghdr msg = {
        .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = control.raw, .msg_controllen = sizeof control.raw};
    ssize_t n = recvmsg(ch->fd, &msg, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      continue;
    }
    // Only the reflector's datagrams are replies. Anything else reaching the port is counted, once per
    // channel and drain, with the latest sender: a reflector answering from another of its addresses
    // otherwise looks like a blackout with no clue why.
    if (!same_address(&from, msg.msg_namelen, &ch->remote)) {
      note_stray(io, ch, &from);
      continue;
    }
    // Both clocks now: T4 falls back to the monotonic read if the kernel gave no timestamp.
    uint64_t mono = clock_ns(CLOCK_MONOTONIC);
    uint64_t real = clock_ns(CLOCK_REALTIME);
    uint64_t t4 = mono;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
        struct timespec ts;
        memcpy(&ts, CMSG_DATA(c), sizeof ts);
        // The kernel stamps CLOCK_REALTIME; move it onto the monotonic clock the prober uses by its age
        // against the realtime clock read above (only a clock step within these microseconds could skew it).
        uint64_t stamped = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
        int64_t age = (int64_t)(real - stamped);
        if (age >= 0 && (uint64_t)age < mono) t4 = mono - (uint64_t)age;
      }
    }
    uint8_t *copy = malloc((size_t)n > 0 ? (size_t)n : 1);
    if (!copy) {
      io->dropped++;
      continue;
    }
    memcpy(copy, buf, (size_t)n);
    add_record(io, (record_t){.kind = RECORD_REPLY, .channel = ch->id, .ns = t4, .len = (uint32_t)n, .payload = copy});
  }
}

// Called with the lock held: sets the timer for the earliest queued packet.
static void arm(io_t *io) {
  uint64_t earliest = 0;
  for (int i = 0; i < MAX_CHANNELS; i++) {
    channel_t *ch = &io->channels[i];
    if (ch->id != 0 && ch->head && (earliest == 0 || ch->head->due_ns < earliest)) earliest = ch->head->due_ns;
  }
  if (earliest == io->armed_ns) return;
  struct itimerspec spec = {0};
  if (earliest != 0) {
    spec.it_value.tv_sec = (time_t)(earliest / 1000000000ull);
    spec.it_value.tv_nsec = (long)(earliest % 1000000000ull);
  }
  timerfd_settime(io->timerfd, TFD_TIMER_ABSTIME, &spec, NULL);
  io->armed_ns = earliest;
}

static void *io_thread(void *arg) {
  io_t *io = arg;
  if (io->niceness != INT32_MIN) {
    // Per thread on Linux (setpriority(2), NOTES): best effort, needs CAP_SYS_NICE to go below 0.
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), io->niceness);
  }
  struct epoll_event events[64];
  for (;;) {
    int n = epoll_wait(io->epfd, events, 64, -1);
    pthread_mutex_lock(&io->lock);
    if (io->stopping) {
      pthread_mutex_unlock(&io->lock);
      return NULL;
    }
    for (int i = 0; i < n; i++) {
      uint64_t tag = events[i].data.u64;
      uint64_t scratch;
      if (tag == 0) {
        if (read(io->wakefd, &scratch, sizeof scratch) < 0) { /* nothing to read: a spurious wake */ }
      } else if (tag == 1) {
        if (read(io->timerfd, &scratch, sizeof scratch) < 0) { /* the timer was re-armed meanwhile */ }
        io->armed_ns = 0;
      } else {
        channel_t *ch = find_channel(io, (uint32_t)(tag >> 8));
        if (ch) receive(io, ch);
      }
    }
    send_due(io);
    arm(io);
    pthread_mutex_unlock(&io->lock);
  }
}

// ---- Node-API ----

// The errno's name too (EADDRNOTAVAIL), for whoever matches on it: glibc has it since 2.32.
static const char *errno_name(int err) {
#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 32)
  const char *name = strerrorname_np(err);
  return name ? name : "?";
#else
  (void)err;
  return "?";
#endif
}

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char message[256];
  snprintf(message, sizeof message, "%s: %s (%s)", what, strerror(err), errno_name(err));
  napi_throw_error(env, errno_name(err), message);
  return NULL;
}

#define CHECK(call)                                                       \
  do {                                                                    \
    if ((call) != napi_ok) {                                              \
      napi_throw_error(env, NULL, "probe_io: Node-API call failed: " #call); \
      return NULL;                                                        \
    }                                                                     \
  } while (0)

static void destroy(io_t *io) {
  if (io->destroyed) return;
  io->destroyed = 1;
  if (io->thread_started) {
    pthread_mutex_lock(&io->lock);
    io->stopping = 1;
    pthread_mutex_unlock(&io->lock);
    wake_thread(io);
    pthread_join(io->thread, NULL);
  }
  for (int i = 0; i < MAX_CHANNELS; i++) {
    channel_t *ch = &io->channels[i];
    if (ch->id == 0) continue;
    close(ch->fd);
    free_queue(ch);
    ch->id = 0;
  }
  for (size_t i = 0; i < io->nrecords; i++) free(io->records[i].payload);
  io->nrecords = 0;
  if (io->epfd >= 0) close(io->epfd);
  if (io->wakefd >= 0) close(io->wakefd);
  if (io->timerfd >= 0) close(io->timerfd);
  free(io->records);
  io->records = NULL;
}

static void cleanup_hook(void *arg) { destroy(arg); }

static void finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  io_t *io = data;
  if (!io->destroyed) napi_remove_env_cleanup_hook(env, cleanup_hook, io);
  destroy(io);
  pthread_mutex_destroy(&io->lock);
  free(io);
}

static io_t *get_io(napi_env env, napi_value value) {
  void *data = NULL;
  if (napi_get_value_external(env, value, &data) != napi_ok || !data) {
    napi_throw_type_error(env, NULL, "probe_io: not an I/O handle");
    return NULL;
  }
  io_t *io = data;
  if (io->destroyed) {
    napi_throw_error(env, NULL, "probe_io: the I/O thread has been stopped");
    return NULL;
  }
  return io;
}

// A method's arguments, the first being the I/O handle: its io_t, or NULL with a JavaScript exception set.
static io_t *method_args(napi_env env, napi_callback_info info, size_t count, napi_value *argv) {
  size_t argc = count;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < count) {
    napi_throw_type_error(env, NULL, "probe_io: too few arguments");
    return NULL;
  }
  return get_io(env, argv[0]);
}

// create(niceness: number | null): handle
static napi_value js_create(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  io_t *io = calloc(1, sizeof *io);
  if (!io) return throw_errno(env, "probe_io: calloc", ENOMEM);
  pthread_mutex_init(&io->lock, NULL);
  io->epfd = io->wakefd = io->timerfd = -1;
  io->next_id = 1;
  io->niceness = INT32_MIN;
  napi_valuetype type = napi_null;
  if (argc >= 1) napi_typeof(env, argv[0], &type);
  if (type == napi_number) napi_get_value_int32(env, argv[0], &io->niceness);
  napi_value handle;
  // The handle owns io from here on: its finalizer frees it, whatever fails below.
  if (napi_create_external(env, io, finalize, NULL, &handle) != napi_ok) {
    pthread_mutex_destroy(&io->lock);
    free(io);
    napi_throw_error(env, NULL, "probe_io: napi_create_external failed");
    return NULL;
  }
  io->records = malloc(sizeof(record_t) * MAX_RECORDS);
  io->epfd = epoll_create1(EPOLL_CLOEXEC);
  io->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  io->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (!io->records || io->epfd < 0 || io->wakefd < 0 || io->timerfd < 0) {
    int err = io->records ? errno : ENOMEM;
    destroy(io);
    return throw_errno(env, "probe_io: setting up the I/O thread", err);
  }
  struct epoll_event wake = {.events = EPOLLIN, .data.u64 = 0};
  struct epoll_event timer = {.events = EPOLLIN, .data.u64 = 1};
  epoll_ctl(io->epfd, EPOLL_CTL_ADD, io->wakefd, &wake);
  epoll_ctl(io->epfd, EPOLL_CTL_ADD, io->timerfd, &timer);
  int err = pthread_create(&io->thread, NULL, io_thread, io);
  if (err != 0) {
    destroy(io);
    return throw_errno(env, "probe_io: pthread_create", err);
  }
  io->thread_started = 1;
  napi_add_env_cleanup_hook(env, cleanup_hook, io);
  return handle;
}

static int parse_address(const char *text, int port, struct sockaddr_storage *out, socklen_t *len) {
  memset(out, 0, sizeof *out);
  struct sockaddr_in *v4 = (struct sockaddr_in *)out;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
  if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    *len = sizeof *v4;
    return AF_INET;
  }
  if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    *len = sizeof *v6;
    return AF_INET6;
  }
  return -1;
}

// open(handle, localAddress, remoteAddress, remotePort): channel id. Throws with the failing step (bind
// fails when the address is not on this host).
static napi_value js_open(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  io_t *io = method_args(env, info, 4, argv);
  if (!io) return NULL;
  char local[64], remote[64];
  size_t ignored;
  int32_t port;
  CHECK(napi_get_value_string_utf8(env, argv[1], local, sizeof local, &ignored));
  CHECK(napi_get_value_string_utf8(env, argv[2], remote, sizeof remote, &ignored));
  CHECK(napi_get_value_int32(env, argv[3], &port));
  struct sockaddr_storage local_addr, remote_addr;
  socklen_t local_len, remote_len;
  int family = parse_address(local, 0, &local_addr, &local_len);
  if (family < 0 || parse_address(remote, port, &remote_addr, &remote_len) != family) {
    napi_throw_type_error(env, NULL, "probe_io: local and remote must be IP addresses of one family");
    return NULL;
  }
  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  int on = 1;
  char what[160];
  if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "setsockopt SO_TIMESTAMPNS", err);
  }
  if (bind(fd, (struct sockaddr *)&local_addr, local_len) < 0) {
    int err = errno;
    close(fd);
    snprintf(what, sizeof what, "bind %s", local);
    return throw_errno(env, what, err);
  }
  // Not connected: connect() needs a route now, and an uplink that is down at start has none. Sends
  // fail (send-error records) until it has one again, and replies are told apart by their source.
  pthread_mutex_lock(&io->lock);
  channel_t *slot = find_channel(io, 0);
  uint32_t id = 0;
  int err = 0;
  if (!slot) {
    err = EMFILE;
  } else {
    id = io->next_id++;
    if (io->next_id >= (1u << 24)) io->next_id = 1;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)id << 8};
    if (epoll_ctl(io->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
      err = errno;
    } else {
      *slot = (channel_t){.id = id, .fd = fd, .remote = remote_addr, .remote_len = remote_len, .stray_record = -1};
    }
  }
  pthread_mutex_unlock(&io->lock);
  if (err != 0) {
    close(fd);
    return throw_errno(env, "probe_io: adding the socket", err);
  }
  napi_value result;
  CHECK(napi_create_uint32(env, id, &result));
  return result;
}

// queue(handle, channel, dueNs: bigint, seq, packet: Buffer): false if the channel is gone or full.
static napi_value js_queue(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  io_t *io = method_args(env, info, 5, argv);
  if (!io) return NULL;
  uint32_t id, seq;
  uint64_t due;
  bool lossless;
  void *data;
  size_t len;
  CHECK(napi_get_value_uint32(env, argv[1], &id));
  CHECK(napi_get_value_bigint_uint64(env, argv[2], &due, &lossless));
  CHECK(napi_get_value_uint32(env, argv[3], &seq));
  CHECK(napi_get_buffer_info(env, argv[4], &data, &len));
  if (len == 0 || len > MAX_DATAGRAM) {
    napi_throw_range_error(env, NULL, "probe_io: packet length must be 1..2048 octets");
    return NULL;
  }
  packet_t *p = malloc(sizeof *p + len);
  if (!p) return throw_errno(env, "probe_io: malloc", ENOMEM);
  *p = (packet_t){.due_ns = due, .seq = seq, .len = (uint32_t)len};
  memcpy(p->data, data, len);
  bool queued = false, wake = false;
  pthread_mutex_lock(&io->lock);
  channel_t *ch = find_channel(io, id);
  if (ch && id != 0 && ch->queued < MAX_QUEUED_PER_CHANNEL) {
    // In due order; the prober queues in that order already, so this is an append.
    if (!ch->tail || ch->tail->due_ns <= due) {
      if (ch->tail) ch->tail->next = p;
      else ch->head = p;
      ch->tail = p;
    } else {
      packet_t **at = &ch->head;
      while ((*at)->due_ns <= due) at = &(*at)->next;
      p->next = *at;
      *at = p;
    }
    ch->queued++;
    queued = true;
    // Wake the thread only when this packet is due before the time its timer is set for.
    wake = io->armed_ns == 0 || due < io->armed_ns;
  }
  pthread_mutex_unlock(&io->lock);
  if (!queued) free(p);
  if (wake) wake_thread(io);
  napi_value result;
  CHECK(napi_get_boolean(env, queued, &result));
  return result;
}

// close(handle, channel): closes the socket and drops its queued packets.
static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  io_t *io = method_args(env, info, 2, argv);
  if (!io) return NULL;
  uint32_t id;
  CHECK(napi_get_value_uint32(env, argv[1], &id));
  pthread_mutex_lock(&io->lock);
  channel_t *ch = id == 0 ? NULL : find_channel(io, id);
  if (ch) {
    epoll_ctl(io->epfd, EPOLL_CTL_DEL, ch->fd, NULL);
    close(ch->fd);
    free_queue(ch);
    ch->id = 0;
  }
  pthread_mutex_unlock(&io->lock);
  return NULL;
}

static const char *kind_name(uint8_t kind) {
  return kind == RECORD_SENT ? "sent" : kind == RECORD_SEND_ERROR ? "send-error" : kind == RECORD_REPLY ? "reply" : "stray";
}

// drain(handle): { records: [{ channel, kind, seq?, ns: bigint, payload?, error?, from?, count? }], dropped }
static napi_value js_drain(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  io_t *io = method_args(env, info, 1, argv);
  if (!io) return NULL;
  pthread_mutex_lock(&io->lock);
  size_t n = io->nrecords;
  record_t *taken = NULL;
  if (n > 0) {
    taken = malloc(sizeof(record_t) * n);
    if (taken) {
      memcpy(taken, io->records, sizeof(record_t) * n);
      io->nrecords = 0;
      for (int i = 0; i < MAX_CHANNELS; i++) io->channels[i].stray_record = -1;
    } else {
      n = 0;
    }
  }
  uint64_t dropped = io->dropped;
  io->dropped = 0;
  pthread_mutex_unlock(&io->lock);
  napi_value result, records, value;
  CHECK(napi_create_object(env, &result));
  CHECK(napi_create_array_with_length(env, n, &records));
  for (size_t i = 0; i < n; i++) {
    record_t *r = &taken[i];
    napi_value record;
    CHECK(napi_create_object(env, &record));
    CHECK(napi_create_uint32(env, r->channel, &value));
    CHECK(napi_set_named_property(env, record, "channel", value));
    CHECK(napi_create_string_utf8(env, kind_name(r->kind), NAPI_AUTO_LENGTH, &value));
    CHECK(napi_set_named_property(env, record, "kind", value));
    CHECK(napi_create_bigint_uint64(env, r->ns, &value));
    CHECK(napi_set_named_property(env, record, "ns", value));
    if (r->kind == RECORD_REPLY) {
      void *copy;
      CHECK(napi_create_buffer_copy(env, r->len, r->payload, &copy, &value));
      CHECK(napi_set_named_property(env, record, "payload", value));
      free(r->payload);
      r->payload = NULL;
    } else if (r->kind == RECORD_STRAY) {
      CHECK(napi_create_string_utf8(env, (const char *)r->payload, NAPI_AUTO_LENGTH, &value));
      CHECK(napi_set_named_property(env, record, "from", value));
      CHECK(napi_create_uint32(env, r->count, &value));
      CHECK(napi_set_named_property(env, record, "count", value));
      free(r->payload);
      r->payload = NULL;
    } else {
      CHECK(napi_create_uint32(env, r->seq, &value));
      CHECK(napi_set_named_property(env, record, "seq", value));
    }
    if (r->kind == RECORD_SEND_ERROR) {
      char message[160];
      snprintf(message, sizeof message, "send: %s (%s)", strerror(r->err), errno_name(r->err));
      CHECK(napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &value));
      CHECK(napi_set_named_property(env, record, "error", value));
    }
    CHECK(napi_set_element(env, records, (uint32_t)i, record));
  }
  free(taken);
  CHECK(napi_set_named_property(env, result, "records", records));
  CHECK(napi_create_double(env, (double)dropped, &value));
  CHECK(napi_set_named_property(env, result, "dropped", value));
  return result;
}

// stop(handle): stops the thread and closes every socket; the handle is unusable afterwards.
static napi_value js_stop(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *data = NULL;
  CHECK(napi_get_value_external(env, argv[0], &data));
  io_t *io = data;
  if (!io->destroyed) {
    napi_remove_env_cleanup_hook(env, cleanup_hook, io);
    destroy(io);
  }
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"create", NULL, js_create, NULL, NULL, NULL, napi_default, NULL},
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"queue", NULL, js_queue, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"drain", NULL, js_drain, NULL, NULL, NULL, napi_default, NULL},
      {"stop", NULL, js_stop, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof methods / sizeof methods[0], methods) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
