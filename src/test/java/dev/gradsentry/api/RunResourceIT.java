package dev.gradsentry.api;

import io.quarkus.test.junit.QuarkusIntegrationTest;

/** The same tests against the packaged application ({@code java -jar target/quarkus-app/quarkus-run.jar}). */
@QuarkusIntegrationTest
class RunResourceIT extends RunResourceTest {
}
