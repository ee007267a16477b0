// The agent's record lookups run here, off the io thread (issue 5 item 2): a record source may
// block (the command connector waits up to its timeout, the store reads SQLCipher pages), and the
// io thread must keep answering pings and other queries meanwhile. One worker thread takes jobs
// from a bounded queue in order; a full queue refuses the job at once (the channel then answers
// `unavailable`). A job typically calls Responder::FindRecords and posts the result back to the
// io thread, which seals and sends the answer.
//
// Thread safety: Submit and Stop may be called from any thread. Jobs run one at a time on the
// worker thread. A job must not release the last reference to io objects on the worker thread:
// move them into what it posts back instead.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace mash::agent {

class LookupWorker {
 public:
  static constexpr size_t kDefaultQueue = 32;

  explicit LookupWorker(size_t max_queue = kDefaultQueue);
  // Stops: the job running finishes, queued ones are dropped (destroyed on the calling thread).
  ~LookupWorker();
  LookupWorker(const LookupWorker&) = delete;
  LookupWorker& operator=(const LookupWorker&) = delete;

  // false (and `job` is destroyed here) when the queue holds max_queue jobs or the worker stopped.
  bool Submit(std::function<void()> job);
  void Stop();
  size_t queued() const;

 private:
  void Run();

  const size_t max_queue_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace mash::agent
