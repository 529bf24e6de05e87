package dev.gradsentry.api;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static dev.gradsentry.api.Api.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.startsWith;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code GET /api/runs/{id}/steps}: every step of a finished run, as JSON columns and as CSV rows. */
@QuarkusTest
@Tag("quarkus")
class StepResourceTest {

    private static final String RUN =
            "{\"workload\":\"fashion-mlp\",\"steps\":30,\"evalInterval\":10,\"evalExamples\":200}";
    private static final List<String> LAYERS = List.of("0_dense", "1_dense", "2_output");

    private static String id;

    /** Once for all tests; in {@code @BeforeEach}, since the service is not up yet in {@code @BeforeAll}. */
    @BeforeEach
    void trainARun() {
        if (id != null) {
            return;
        }
        Runs.stopActive();
        id = Runs.start(RUN);
        assertEquals("finished", Runs.awaitEnd(id, Duration.ofSeconds(120)).getString("state"));
    }

    private static JsonPath steps(String query) {
        return given().when().get("/api/runs/" + id + "/steps" + query).then().statusCode(200)
                .contentType("application/json").extract().jsonPath();
    }

    @Test
    void theJsonHoldsEveryStepInColumnsWithTheHeldOutMetricAfterTheStepsItWasMeasuredAt() {
        JsonPath j = steps("");
        assertEquals(30, j.getInt("rows"));
        List<Integer> expected = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            expected.add(i);
        }
        assertEquals(expected, j.getList("step", Integer.class));
        assertEquals("accuracy", j.getString("metric"));
        assertEquals(0, j.getInt("dropped"));
        List<Float> heldOut = j.getList("heldOut", Float.class);
        for (int i = 0; i < 30; i++) {
            // evaluations after 10, 20 and 30 steps done: the steps with index 9, 19 and 29
            assertEquals(i % 10 == 9, heldOut.get(i) != null, "step " + i + ": " + heldOut);
        }
        assertEquals(Runs.get(id).getFloat("evaluation.value"), heldOut.get(29), 1e-6);
        assertEquals(LAYERS, new ArrayList<>(j.getMap("layers").keySet()));
        for (String layer : LAYERS) {
            List<Float> norms = j.getList("layers." + layer + ".norm", Float.class);
            assertEquals(30, norms.size());
            assertTrue(norms.stream().allMatch(n -> n > 0 && Float.isFinite(n)), layer + ": " + norms);
            // the update ratio is sampled every 10th step (gradsentry.update-ratio-every)
            List<Float> ratios = j.getList("layers." + layer + ".updateRatio", Float.class);
            assertTrue(ratios.get(0) != null && ratios.get(1) == null, layer + ": " + ratios);
        }
        List<Float> loss = j.getList("loss", Float.class);
        assertEquals(Runs.get(id).getFloat("loss"), loss.get(29), 1e-6, "the last step's loss is the run's");
        List<Float> global = j.getList("globalNorm", Float.class);
        List<Float> first = j.getList("layers.0_dense.norm", Float.class);
        List<Float> second = j.getList("layers.1_dense.norm", Float.class);
        List<Float> third = j.getList("layers.2_output.norm", Float.class);
        for (int i = 0; i < 30; i++) {
            double sum = first.get(i) * first.get(i) + second.get(i) * second.get(i) + third.get(i) * third.get(i);
            assertEquals(global.get(i), Math.sqrt(sum), 1e-4 * global.get(i), "the global norm of step " + i);
        }
    }

    @Test
    void aRangeEveryAndLayersSelectRowsAndColumns() {
        JsonPath j = steps("?from=5&to=24&every=5&layers=1_dense");
        assertEquals(List.of(9, 14, 19, 24), j.getList("step", Integer.class),
                "one row per bucket of every steps, at the bucket's last step");
        assertEquals(2, j.getList("heldOut", Float.class).stream().filter(v -> v != null).count(),
                "the evaluations after steps 9 and 19 ride in their buckets' rows");
        assertEquals(List.of("1_dense"), new ArrayList<>(j.getMap("layers").keySet()));
        assertEquals(0, steps("?layers=").getMap("layers").size(), "layers= selects none");
        assertEquals(0, steps("?from=1000").getInt("rows"), "past the last step: nothing yet, not an error");
    }

    @Test
    void theCsvHasOneHeaderAndOneLinePerStepWithTheLayersColumnsNamedByLayer() {
        String csv = given().accept("text/csv").when().get("/api/runs/" + id + "/steps?layers=0_dense,2_output")
                .then().statusCode(200).contentType(startsWith("text/csv")).extract().asString();
        String[] lines = csv.split("\n");
        assertEquals(31, lines.length);
        assertEquals("step,epoch,loss,learningRate,globalNorm,maxAbs,nonFinite,clipThreshold,clipped,heldOut,"
                + "0_dense.norm,0_dense.maxAbs,0_dense.nonFinite,0_dense.updateRatio,0_dense.clipThreshold,"
                + "2_output.norm,2_output.maxAbs,2_output.nonFinite,2_output.updateRatio,2_output.clipThreshold",
                lines[0]);
        for (int i = 1; i <= 30; i++) {
            String[] cells = lines[i].split(",", -1);
            assertEquals(20, cells.length, lines[i]);
            assertEquals(String.valueOf(i - 1), cells[0]);
            assertTrue(cells[8].equals("true") || cells[8].equals("false"), lines[i]);
            assertEquals(i % 10 == 0, !cells[9].isEmpty(), "held-out cell of " + lines[i]);
            assertTrue(Float.parseFloat(cells[10]) > 0, lines[i]);
        }
    }

    @Test
    void badParametersAre400sNamingTheParameter() {
        String[][] cases = {
                {"?from=-1", "from"},
                {"?from=abc", "from"},
                {"?from=10&to=5", "to"},
                {"?to=1.5", "to"},
                {"?every=0", "every"},
                {"?every=", "every"},
                {"?every=2&every=3", "every"},
                {"?layers=0_dense,9_nope", "layers"},
        };
        for (String[] c : cases) {
            given().when().get("/api/runs/" + id + "/steps" + c[0]).then().statusCode(400)
                    .contentType("application/problem+json")
                    .body("field", equalTo(c[1]))
                    .body("detail", containsString(c[1]));
        }
        given().accept("text/csv").when().get("/api/runs/" + id + "/steps?every=0").then().statusCode(400)
                .contentType("application/problem+json").body("field", equalTo("every"));
        given().when().get("/api/runs/no-such-run/steps").then().statusCode(404).body("field", equalTo("id"));
    }

    @Test
    void theRunListAndTheHistoryAgreeOnTheLastStep() {
        JsonPath j = steps("?from=29");
        assertEquals(List.of(29), j.getList("step", Integer.class));
        assertNull(steps("?from=29&layers=").get("to"), "no 'to' when none was asked for");
    }
}
