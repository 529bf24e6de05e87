package dev.gradsentry.api;

import dev.gradsentry.core.clip.ClipPolicy;
import dev.gradsentry.core.intervene.Guard;
import dev.gradsentry.training.RunRegistry;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.gradsentry.api.Api.given;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Changes of the guard's policy while a run trains, from many clients at once: each applied change is audited once,
 * in the order it was applied, none is lost, a change that changes nothing is no change, and a change of the guard's
 * own settings keeps what the clipping policy learned.
 */
@QuarkusTest
@Tag("quarkus")
class PolicyChangesTest {

    /** The exploding adding problem: no data files, and the adaptive policy has thresholds to keep at once. */
    private static final String EXPLODING = "{\"workload\":\"adding\",\"cell\":\"rnn\",\"activation\":\"tanh\","
            + "\"recurrentGain\":2,\"hidden\":16,\"optimizer\":\"sgd\",\"learningRate\":0.1,\"batchSize\":32,"
            + "\"sequenceLength\":50,\"steps\":1000000,\"seed\":7,\"evalInterval\":0,\"evalExamples\":200}";
    private static final Pattern SPIKE_Z = Pattern.compile("spikeZ ([0-9.]+) -> ([0-9.]+)");

    @Inject
    RunRegistry registry;

    private String run;

    @AfterEach
    void stopAndRestore() {
        if (run != null) {
            given().when().delete("/api/runs/" + run).then().statusCode(200);
        }
        given().contentType(ContentType.JSON).body(Api.DEFAULT_POLICY).when().put("/api/policy").then()
                .statusCode(200);
    }

    private String startRun() {
        Runs.stopActive();
        run = Runs.start(EXPLODING);
        Runs.awaitStep(run, 1, Duration.ofSeconds(60));
        return run;
    }

    private static void put(String body) {
        given().contentType(ContentType.JSON).body(body).when().put("/api/policy").then().statusCode(200);
    }

    private static List<String> policyChanges(String id) {
        JsonPath page = given().when().get("/api/runs/" + id + "/interventions?kind=policy-change&limit=1000")
                .then().statusCode(200).extract().jsonPath();
        return page.getList("items.detail", String.class);
    }

    /** Sends all requests at once, each on its own thread; every one must be answered 200. */
    private static void allAnswer200(List<Callable<Integer>> requests) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(requests.size());
        try {
            for (Future<Integer> f : pool.invokeAll(requests)) {
                assertEquals(200, f.get());
            }
        } finally {
            pool.shutdown();
        }
    }

    @Test
    void fiftyParallelChangesAreEachAuditedOnceInTheOrderTheyWereApplied() throws Exception {
        String id = startRun();
        List<Callable<Integer>> puts = new ArrayList<>();
        Set<String> values = new HashSet<>();
        for (int i = 1; i <= 50; i++) {
            String z = String.format(Locale.ROOT, "%.2f", 4 + i / 100.0);
            values.add(z);
            puts.add(() -> given().contentType(ContentType.JSON).body("{\"spikeZ\":" + z + "}")
                    .when().put("/api/policy").then().extract().statusCode());
        }
        allAnswer200(puts);
        List<String> details = await("50 policy-change events").atMost(Duration.ofSeconds(60))
                .pollInterval(Duration.ofMillis(100)).until(() -> policyChanges(id), d -> d.size() >= 50);
        assertEquals(50, details.size(), String.join("\n", details));
        // Each event starts where the one before it ended: applied in this order, none lost, none twice.
        String previous = "4.0";
        Set<String> seen = new HashSet<>();
        for (String detail : details) {
            Matcher m = SPIKE_Z.matcher(detail);
            assertTrue(m.find(), detail);
            assertEquals(Double.parseDouble(previous), Double.parseDouble(m.group(1)), 1e-9, detail);
            seen.add(String.format(Locale.ROOT, "%.2f", Double.parseDouble(m.group(2))));
            previous = m.group(2);
        }
        assertEquals(values, seen);
        double inForce = given().when().get("/api/policy").then().extract().jsonPath().getDouble("spikeZ");
        assertEquals(Double.parseDouble(previous), inForce, 1e-6, "the last change audited is the one in force");
    }

    @Test
    void anAcknowledgedModeChangeIsNeverLostToConcurrentChanges() throws Exception {
        String id = startRun();
        for (int round = 0; round < 5; round++) {
            put("{\"mode\":\"auto\"}");
            List<Callable<Integer>> puts = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                String factor = String.format(Locale.ROOT, "%.3f", 0.3 + round / 100.0 + i / 1000.0);
                puts.add(() -> given().contentType(ContentType.JSON).body("{\"lrBackoffFactor\":" + factor + "}")
                        .when().put("/api/policy").then().extract().statusCode());
                if (i == 10) {
                    puts.add(() -> given().contentType(ContentType.JSON).body("{\"mode\":\"observe\"}")
                            .when().put("/api/policy").then().extract().statusCode());
                }
            }
            allAnswer200(puts);
            assertEquals("observe", given().when().get("/api/policy").then().extract().path("mode"),
                    "round " + round + ": the acknowledged mode change was overwritten");
        }
        await("the run's guard in observe mode").atMost(Duration.ofSeconds(30))
                .until(() -> registry.run(id).orElseThrow().guard().settings().mode().name().equals("OBSERVE"));
    }

    @Test
    void thePolicyInForceSentAgainIsNoChangeAndAGuardSettingKeepsWhatThePolicyLearned() {
        String id = startRun();
        Guard guard = registry.run(id).orElseThrow().guard();
        ClipPolicy learning = guard.policy();

        put("{\"spikeZ\":4}"); // the value in force
        put(Api.DEFAULT_POLICY); // every value as it is
        Runs.awaitStep(id, registry.run(id).orElseThrow().status().step() + 5, Duration.ofSeconds(60));
        assertEquals(List.of(), policyChanges(id), "sending what is in force changes nothing");
        assertSame(learning, guard.policy());

        put("{\"spikeZ\":5,\"mode\":\"observe\"}");
        List<String> changes = await().atMost(Duration.ofSeconds(30)).until(() -> policyChanges(id),
                d -> d.size() == 1);
        assertSame(learning, guard.policy(), "a change of the guard's settings keeps the clipping policy");
        assertTrue(changes.get(0).contains("spikeZ 4.0 -> 5.0"), changes.get(0));
        assertTrue(changes.get(0).contains("mode auto -> observe"), changes.get(0));
        assertTrue(changes.get(0).contains("kept"), changes.get(0));

        put("{\"settings\":{\"relaxAfter\":100}}");
        changes = await().atMost(Duration.ofSeconds(30)).until(() -> policyChanges(id), d -> d.size() == 2);
        assertNotSame(learning, guard.policy(), "a change of the policy's settings is a new policy");
        assertTrue(changes.get(1).contains("relaxAfter 500.0 -> 100.0"), changes.get(1));
        assertTrue(changes.get(1).contains("reset"), changes.get(1));
    }
}
