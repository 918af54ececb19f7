// The parsers' streaming / in-memory entry points (used by the fuzz targets of tests/fuzz) and the
// inputs the fuzzers found (docs/reliability.md, "Fuzzing"): each finding is a test here.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <string>

#include "alinify/batch/manifest.hpp"
#include "alinify/core/error.hpp"
#include "alinify/job/map_points.hpp"
#include "app/options.hpp"

using namespace alinify;

namespace {

std::string bad_input_message(const std::string& csv) {
  std::istringstream in(csv);
  try {
    job::PointsCsvReader r(in, "p.csv");
    Vec2 p{};
    while (r.next(p)) {
    }
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
    return e.what();
  }
  return "";
}

}  // namespace

TEST(PointsCsvReader, ReadsColumnsByNameSkipsBlankLinesAndCountsLines) {
  std::istringstream in("id, y ,x\r\n1,2,3\r\n\r\n2,-5.5e1,6.25\n");
  job::PointsCsvReader r(in, "p.csv");
  Vec2 p{};
  ASSERT_TRUE(r.next(p));
  EXPECT_EQ(p.x, 3);
  EXPECT_EQ(p.y, 2);
  EXPECT_EQ(r.line(), 2);
  ASSERT_TRUE(r.next(p));
  EXPECT_EQ(p.x, 6.25);
  EXPECT_EQ(p.y, -55);
  EXPECT_EQ(r.line(), 4);
  EXPECT_FALSE(r.next(p));
}

TEST(PointsCsvReader, MalformedInputIsBadInputNamingFileAndLine) {
  EXPECT_EQ(bad_input_message(""), "p.csv: is empty; a header with columns x,y is expected");
  EXPECT_EQ(bad_input_message("a,b\n1,2\n"), "p.csv: line 1: header must name columns x and y");
  EXPECT_EQ(bad_input_message("x,y\n1,2\n3\n"), "p.csv: line 3: too few columns");
  EXPECT_EQ(bad_input_message("x,y\n1,ten\n"), "p.csv: line 2: 'ten' is not a number");
  EXPECT_EQ(bad_input_message("x,y\n1,nan\n"), "p.csv: line 2: 'nan' is not a finite number");
  EXPECT_EQ(bad_input_message("x,y\n1,1e999\n"), "p.csv: line 2: '1e999' is not a number");
  EXPECT_EQ(bad_input_message("x,y,x\n1,2,3\n"), "p.csv: line 1: the header names column x twice");
  EXPECT_EQ(bad_input_message("y,x,y\n1,2,3\n"), "p.csv: line 1: the header names column y twice");
  EXPECT_EQ(bad_input_message("id,x,y\n1,2,3\n4,5,6,7\n"), "p.csv: line 3: 4 fields, the header names 3");
  EXPECT_EQ(bad_input_message("x,y\n1,2\n"), "");
}

TEST(ParseManifest, StreamGivesTheSameJobsAndProblemsAsTheFile) {
  std::istringstream in("id,design,scan,out\na,d.tif,s.tif,o/a.tif\na,d.tif,s.tif,o/a.tif\n");
  batch::Manifest m = batch::parse_manifest(in, "/nonexistent-alinify/m.csv");
  ASSERT_EQ(m.jobs.size(), 2u);
  EXPECT_EQ(m.jobs[0].design, "/nonexistent-alinify/d.tif");
  bool dup = false;
  for (const auto& p : m.problems) dup |= p.find("m.csv:3: duplicate id 'a'") != std::string::npos;
  EXPECT_TRUE(dup);
}

namespace {

app::po::options_description run_like_options() {
  app::po::options_description d("run");
  app::add_pair(d);
  d.add(app::register_options());
  d.add(app::warp_options());
  d.add(app::common_options());
  return d;
}

std::string store_ini(const std::string& text, app::po::variables_map& vm) {
  std::istringstream in(text);
  try {
    app::store_config(in, "a.ini", run_like_options(), vm);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
    return e.what();
  }
  return "";
}

}  // namespace

TEST(IniConfig, ValuesAreStoredAndTheCommandLineWins) {
  app::po::variables_map vm;
  const std::vector<std::string> args{"--interp", "bicubic"};
  app::po::store(app::po::command_line_parser(args).options(run_like_options()).run(), vm);
  EXPECT_EQ(store_ini("# site\npreset = affine\ninterp = nearest\nelastix-threads=3\n", vm), "");
  EXPECT_EQ(vm["preset"].as<std::string>(), "affine");
  EXPECT_EQ(vm["interp"].as<std::string>(), "bicubic");
  EXPECT_EQ(vm["elastix-threads"].as<int>(), 3);
  app::po::variables_map vm2;
  EXPECT_NE(store_ini("tile = big\n", vm2).find("a.ini: "), std::string::npos);
  app::po::variables_map vm3;
  EXPECT_NE(store_ini("no-such-option = 1\n", vm3).find("a.ini: "), std::string::npos);
}

// fuzz_ini_config, first finding (tests/fuzz/regressions/ini_config/boost_placeholder_loop.ini): an
// unknown key holding "%original_token%" made Boost.Program_options' error formatting loop forever
// (alinify hung on the file). Now refused at once; SIGALRM fails the test if it hangs again.
TEST(IniConfig, PlaceholderInAKeyOrValueIsRefusedNotAnEndlessLoop) {
  EXPECT_EXIT(
      {
        ::alarm(10);
        app::po::variables_map vm;
        const std::string m = store_ini("#\nelastix-thread%original_token%s=[secti2on", vm);
        std::exit(m == "a.ini: line 2: '%original_token%' is not accepted (a %name% sequence)" ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(
      {
        ::alarm(10);
        app::po::variables_map vm;
        const std::string m = store_ini("tile = %value%x\n", vm);
        std::exit(m.rfind("a.ini: line 1: '%value%'", 0) == 0 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
  app::po::variables_map vm;
  EXPECT_EQ(
      store_ini("preset = rigid # 100% of %the% time? no: comments are not read\nelastix = /opt/50%/elastix\n", vm),
      "");
  EXPECT_EQ(vm["elastix"].as<std::string>(), "/opt/50%/elastix");
  try {
    app::refuse_boost_placeholders({"--design", "x", "--elastix%option%"}, "warp");
    ADD_FAILURE() << "not refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kUsage);
    EXPECT_NE(std::string(e.what()).find("'%option%'"), std::string::npos) << e.what();
  }
}

// fuzz_manifest, first finding (tests/fuzz/regressions/manifest/newline_in_json_key): a JSON Lines
// key or value may hold an escaped newline ("c\n"); the problem line for it came out as two lines,
// and such an id would have reached the logs and the summary CSV. Keys are now printed escaped, and a
// field holding a control character (a tab is allowed) is a problem of its row.
TEST(ParseManifest, ControlCharactersNeverSplitAProblemLineNorReachAJob) {
  std::istringstream in(
      "{\"id\":\"a\",\"c\\n\":\"s.tif\",\"design\":\"d.tif\",\"scan\":\"s.tif\",\"out\":\"o/a.tif\"}\n"
      "{\"id\":\"b\\r\\nforged log line\",\"design\":\"d.tif\",\"scan\":\"s.tif\",\"out\":\"o/b.tif\"}\n"
      "{\"id\":\"c\\u001b[31m\",\"design\":\"d.tif\",\"scan\":\"s.tif\",\"out\":\"o/c.tif\"}\n"
      "{\"id\":\"tab\\tok\",\"design\":\"d.tif\",\"scan\":\"s.tif\",\"out\":\"o/t.tif\"}\n");
  batch::Manifest m = batch::parse_manifest(in, "/nonexistent-alinify/m.jsonl");
  for (const auto& p : m.problems) EXPECT_EQ(p.find_first_of("\n\r\x1b"), std::string::npos) << p;
  auto has = [&](const std::string& needle) {
    for (const auto& p : m.problems)
      if (p.find(needle) != std::string::npos) return true;
    return false;
  };
  EXPECT_TRUE(has("m.jsonl:1: unknown key 'c\\n'"));
  EXPECT_TRUE(has("m.jsonl:2: 'id' holds a control character ('b\\r\\nforged log line')"));
  EXPECT_TRUE(has("m.jsonl:3: 'id' holds a control character ('c\\x1b[31m')"));
  ASSERT_EQ(m.jobs.size(), 2u);  // a (its unknown key is a problem, the row itself is complete) and the tab
  EXPECT_EQ(m.jobs[0].id, "a");
  EXPECT_EQ(m.jobs[1].id, "tab\tok");
}
