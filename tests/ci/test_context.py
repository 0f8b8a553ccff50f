from modelport.ci.context import CIContext, ci_context


def test_github() -> None:
    ctx = ci_context({"GITHUB_ACTIONS": "true", "GITHUB_SHA": "a" * 40, "GITHUB_SERVER_URL": "https://github.com",
                      "GITHUB_REPOSITORY": "acme/models", "GITHUB_RUN_ID": "42", "GITHUB_REF": "refs/heads/main",
                      "HEAD_COMMIT_MSG": "retrain"})
    assert ctx == CIContext("github", "a" * 40, "https://github.com/acme/models/actions/runs/42", "acme/models",
                            "refs/heads/main", "retrain")
    assert ctx.release_fields() == {"ci_system": "github", "ci_run_url": ctx.run_url,
                                    "source_repository": "acme/models", "source_ref": "refs/heads/main"}


def test_gitlab() -> None:
    ctx = ci_context({"GITLAB_CI": "true", "CI_COMMIT_SHA": "b" * 40, "CI_JOB_URL": "https://gitlab.com/j/1",
                      "CI_PROJECT_URL": "https://gitlab.com/acme/algo", "CI_COMMIT_REF_NAME": "main",
                      "CI_COMMIT_MESSAGE": "msg"})
    assert (ctx.system, ctx.commit, ctx.run_url, ctx.repository, ctx.ref, ctx.commit_message) == (
        "gitlab", "b" * 40, "https://gitlab.com/j/1", "https://gitlab.com/acme/algo", "main", "msg")


def test_jenkins() -> None:
    ctx = ci_context({"JENKINS_URL": "http://ci/", "GIT_COMMIT": "c" * 40, "BUILD_URL": "http://ci/job/x/7/",
                      "GIT_URL": "https://git.example.com/algo.git", "GIT_BRANCH": "origin/main"})
    assert (ctx.system, ctx.commit, ctx.run_url, ctx.ref) == ("jenkins", "c" * 40, "http://ci/job/x/7/",
                                                             "origin/main")


def test_outside_ci_and_partial_github() -> None:
    assert ci_context({}) == CIContext()
    assert ci_context({}).release_fields() == {}
    # no server or run id (e.g. a local act run): no URL rather than a broken one
    assert ci_context({"GITHUB_SHA": "d" * 40, "GITHUB_REPOSITORY": "a/b"}).run_url is None
