// RegionServices: the PostgreSQL server and the Ceph cluster a test suite of
// a region on several nodes uses (its catalog and its chunk store), started
// by the suite's SetUpTestSuite (Start) and stopped by its
// TearDownTestSuite (Stop). Each test takes a database and a bucket of its
// own from them.
#pragma once

#include "unit/catalog/throwaway_postgres.h"
#include "unit/store/throwaway_ceph.h"

namespace ferry {

class RegionServices {
 public:
  static void Start() {
    postgres_ = new ThrowawayPostgres();
    ceph_ = new ThrowawayCeph();
  }
  static void Stop() {
    delete postgres_;
    postgres_ = nullptr;
    delete ceph_;
    ceph_ = nullptr;
  }
  static ThrowawayPostgres& postgres() { return *postgres_; }
  static ThrowawayCeph& ceph() { return *ceph_; }

 private:
  static inline ThrowawayPostgres* postgres_ = nullptr;
  static inline ThrowawayCeph* ceph_ = nullptr;
};

}  // namespace ferry
