// FillRegionNames: the documented English and Chinese names of ECS regions.
#include <string_view>

#include "region/region.h"

namespace ferry {
namespace {

struct RegionName {
  std::string_view id;
  std::string_view en;
  std::string_view zh;
};

constexpr RegionName kRegionNames[] = {
    {"cn-qingdao", "China (Qingdao)", "华北1（青岛）"},
    {"cn-beijing", "China (Beijing)", "华北2（北京）"},
    {"cn-zhangjiakou", "China (Zhangjiakou)", "华北3（张家口）"},
    {"cn-huhehaote", "China (Hohhot)", "华北5（呼和浩特）"},
    {"cn-wulanchabu", "China (Ulanqab)", "华北6（乌兰察布）"},
    {"cn-hangzhou", "China (Hangzhou)", "华东1（杭州）"},
    {"cn-shanghai", "China (Shanghai)", "华东2（上海）"},
    {"cn-nanjing", "China (Nanjing)", "华东5（南京）"},
    {"cn-shenzhen", "China (Shenzhen)", "华南1（深圳）"},
    {"cn-heyuan", "China (Heyuan)", "华南2（河源）"},
    {"cn-guangzhou", "China (Guangzhou)", "华南3（广州）"},
    {"cn-chengdu", "China (Chengdu)", "西南1（成都）"},
    {"cn-hongkong", "China (Hong Kong)", "中国（香港）"},
    {"ap-southeast-1", "Singapore", "新加坡"},
    {"ap-southeast-2", "Australia (Sydney)", "澳大利亚（悉尼）"},
    {"ap-southeast-3", "Malaysia (Kuala Lumpur)", "马来西亚（吉隆坡）"},
    {"ap-southeast-5", "Indonesia (Jakarta)", "印度尼西亚（雅加达）"},
    {"ap-south-1", "India (Mumbai)", "印度（孟买）"},
    {"ap-northeast-1", "Japan (Tokyo)", "日本（东京）"},
    {"us-west-1", "US (Silicon Valley)", "美国（硅谷）"},
    {"us-east-1", "US (Virginia)", "美国（弗吉尼亚）"},
    {"eu-central-1", "Germany (Frankfurt)", "德国（法兰克福）"},
    {"eu-west-1", "UK (London)", "英国（伦敦）"},
    {"me-east-1", "UAE (Dubai)", "阿联酋（迪拜）"},
};

}  // namespace

// Names the operator configured are kept; only empty ones are filled.
void FillRegionNames(RegionConfig* config) {
  std::string en = config->region_id;
  std::string zh = config->region_id;
  for (const RegionName& n : kRegionNames) {
    if (n.id == config->region_id) {
      en = std::string(n.en);
      zh = std::string(n.zh);
      break;
    }
  }
  if (config->local_name_en.empty()) config->local_name_en = en;
  if (config->local_name_zh.empty()) config->local_name_zh = zh;
}

}  // namespace ferry
