package dev.gradsentry.api;

import io.restassured.RestAssured;
import io.restassured.specification.RequestSpecification;

/** RestAssured with the test profile's API token, as an authorised client sends it. */
final class Api {

    static final String TOKEN = "test-token";

    private Api() {
    }

    static RequestSpecification given() {
        return RestAssured.given().header("Authorization", "Bearer " + TOKEN);
    }
}
