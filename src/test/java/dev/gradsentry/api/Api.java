package dev.gradsentry.api;

import io.restassured.RestAssured;
import io.restassured.specification.RequestSpecification;

/** RestAssured with the test profile's API token, as an authorised client sends it. */
public final class Api {

    static final String TOKEN = "test-token";

    /** The configured defaults, every field spelled out, so that a test leaves no setting behind for the next one. */
    public static final String DEFAULT_POLICY = "{\"mode\":\"auto\",\"policy\":\"adaptive\",\"settings\":{},"
            + "\"snapshotEvery\":50,\"lrBackoffFactor\":0.5,\"lrRestoreAfter\":0,\"maxRecoveries\":8,"
            + "\"recoveryWindow\":1000,\"extremeSpikeRatio\":1000,\"spikeZ\":4,\"spikeWarmup\":20,"
            + "\"divergenceFactor\":3,\"divergencePatience\":3}";

    private Api() {
    }

    static RequestSpecification given() {
        return RestAssured.given().header("Authorization", "Bearer " + TOKEN);
    }
}
